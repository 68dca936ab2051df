import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs external commands for the integration tests.
enum Shell {
    struct Result {
        let status: Int32
        let output: String
        let errorOutput: String
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let command: [String]
        let result: Result
        var description: String {
            "command failed with status \(result.status): \(command.joined(separator: " "))\n"
                + "stdout: \(result.output)\nstderr: \(result.errorOutput)"
        }
    }

    /// The `capnet` executable built beside the test bundle, or the path in
    /// the CAPNET_BINARY environment variable.
    static let capnetBinary: String = {
        if let path = ProcessInfo.processInfo.environment["CAPNET_BINARY"] { return path }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the test bundle is a plain executable in the build directory.
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("capnet").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return "capnet"
    }()

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `command` to completion and returns its output. Throws
    /// `CommandFailed` on a non-zero exit unless `allowFailure` is set.
    @discardableResult
    static func run(_ command: [String], input: Data? = nil, allowFailure: Bool = false) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a chatty command
        // cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let outputBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outputBox.data = stdout.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let errorData = stderr.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outputData = outputBox.data
        process.waitUntilExit()
        let result = Result(status: process.terminationStatus,
                            output: String(decoding: outputData, as: UTF8.self),
                            errorOutput: String(decoding: errorData, as: UTF8.self))
        if result.status != 0 && !allowFailure { throw CommandFailed(command: command, result: result) }
        return result
    }
}

/// A background process whose standard error (capnet's log) is collected, and
/// which is stopped with SIGTERM (then SIGKILL) when the test ends.
final class ManagedProcess {
    struct NotReady: Error, CustomStringConvertible {
        let marker: String
        let log: String
        var description: String { "process did not log '\(marker)' in time; its log:\n\(log)" }
    }

    let process = Process()
    private let errorPipe = Pipe()
    private let lock = NSCondition()
    private var collected = ""
    private var ended = false
    private let exited = DispatchSemaphore(value: 0)

    init(_ command: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.standardError = errorPipe
        process.standardOutput = errorPipe
        process.standardInput = FileHandle.nullDevice
        errorPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.lock()
            if data.isEmpty { self.ended = true } else { self.collected += String(decoding: data, as: UTF8.self) }
            self.lock.broadcast()
            self.lock.unlock()
        }
        process.terminationHandler = { [exited] _ in exited.signal() }
        try process.run()
    }

    /// Everything the process wrote so far.
    var log: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    /// Seconds `stop()` waits after SIGTERM before it sends SIGKILL.
    var stopGrace: TimeInterval = 10

    /// Blocks until the log contains `marker` at least `occurrences` times;
    /// throws on timeout or exit.
    func waitForOutput(containing marker: String, occurrences: Int = 1, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while collected.components(separatedBy: marker).count - 1 < occurrences {
            if ended || !lock.wait(until: deadline) {
                throw NotReady(marker: marker, log: collected)
            }
        }
    }

    /// Sends SIGTERM and waits up to `grace` seconds, then SIGKILL. Returns
    /// the exit status.
    @discardableResult
    func stop(grace: TimeInterval? = nil) -> Int32 {
        let grace = grace ?? stopGrace
        if process.isRunning {
            process.terminate()
            if exited.wait(timeout: .now() + grace) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                exited.wait()
            } else {
                exited.signal()
            }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
