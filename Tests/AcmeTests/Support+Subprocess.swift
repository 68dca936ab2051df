import Foundation

/// The result of one finished command.
struct CommandResult {
    var status: Int32
    var stdout: Data
    var stderr: Data
    var output: String { String(decoding: stdout, as: UTF8.self) }
    var errors: String { String(decoding: stderr, as: UTF8.self) }
}

enum CommandError: Error, CustomStringConvertible {
    case launchFailed(String, String)
    case timedOut(String, seconds: Double)
    var description: String {
        switch self {
        case let .launchFailed(command, detail): "cannot start \(command): \(detail)"
        case let .timedOut(command, seconds): "\(command) did not finish within \(seconds) s"
        }
    }
}

/// Runs a command from PATH to completion, killing it after `timeout` seconds.
func runCommand(_ arguments: [String], stdin: Data? = nil, timeout: Double = 30) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    do { try process.run() } catch { throw CommandError.launchFailed(arguments.joined(separator: " "), "\(error)") }

    // Read both pipes on their own threads so a full pipe cannot block the child.
    let stdoutData = DataBox(), stderrData = DataBox()
    let readers = DispatchGroup()
    DispatchQueue.global().async(group: readers) { stdoutData.data = outPipe.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: readers) { stderrData.data = errPipe.fileHandleForReading.readDataToEndOfFile() }
    if let stdin { inPipe.fileHandleForWriting.write(stdin) }
    try? inPipe.fileHandleForWriting.close()

    if finished.wait(timeout: .now() + timeout) == .timedOut {
        kill(process.processIdentifier, SIGKILL)  // SIGTERM is blocked in children of the test runner.
        _ = finished.wait(timeout: .now() + 5)
        throw CommandError.timedOut(arguments.joined(separator: " "), seconds: timeout)
    }
    readers.wait()
    return CommandResult(status: process.terminationStatus, stdout: stdoutData.data, stderr: stderrData.data)
}

/// Runs a command and returns stdout, failing the test on a non-zero status.
@discardableResult
func runChecked(_ arguments: [String], stdin: Data? = nil, timeout: Double = 30) throws -> CommandResult {
    let result = try runCommand(arguments, stdin: stdin, timeout: timeout)
    guard result.status == 0 else {
        throw CommandError.launchFailed(arguments.joined(separator: " "), "exit \(result.status): \(result.errors)")
    }
    return result
}

/// A fresh temporary directory removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "acme-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Decodes hex text (whitespace and colons ignored).
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.filter(\.isHexDigit)
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// Output collected by a reader thread; read only after the group is done.
final class DataBox: @unchecked Sendable {
    var data = Data()
}
