// Runs an external program (curl, python3) with a time bound, for tests
// against real peers.
import Foundation

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, writes `input` to its standard input,
/// and waits for it to exit. The process is terminated after `timeout`
/// seconds so that a hung peer cannot hang the test run.
func runProcess(_ executable: String, _ arguments: [String], input: String = "",
                timeout: TimeInterval = 30) throws -> ProcessResult
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // SIGKILL, because the test runner starts children with SIGTERM blocked.
    let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try? stdin.fileHandleForWriting.close()
    // Read stderr on another thread so neither pipe can fill and block the peer.
    let errorData = DataBox()
    let errorDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errorData.data = stderr.fileHandleForReading.readDataToEndOfFile()
        errorDone.signal()
    }
    let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
    errorDone.wait()
    process.waitUntilExit()
    watchdog.cancel()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outputData, as: UTF8.self),
                         stderr: String(decoding: errorData.data, as: UTF8.self))
}

/// Returns the first of `names` found as an executable on PATH.
func findExecutable(_ names: String...) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for name in names {
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
    }
    return nil
}

/// Bytes written by one thread and read by another after a semaphore.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
