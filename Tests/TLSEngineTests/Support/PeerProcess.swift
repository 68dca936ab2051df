import Foundation

/// A real peer program run for a test: its output is collected as it
/// arrives, every wait has a deadline, and `stop` kills it.
final class PeerProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let outputPipe = Pipe()
    private let condition = NSCondition()
    private var collected = Data()
    private var exited = false
    private var outputClosed = false

    /// Starts `executable` with `arguments`; stdout and stderr are merged.
    init(_ executable: String, _ arguments: [String]) throws {
        // Writing to the stdin of a peer that already exited must fail, not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = outputPipe
        process.standardError = outputPipe
        outputPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.condition.lock()
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.outputClosed = true
            } else {
                self.collected.append(data)
            }
            self.condition.broadcast()
            self.condition.unlock()
        }
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            self.condition.lock()
            self.exited = true
            self.condition.broadcast()
            self.condition.unlock()
        }
        try process.run()
    }

    deinit { stop() }

    var output: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: collected, as: UTF8.self)
    }

    func write(_ text: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    /// Waits until the output contains `text`; false at the deadline or once the output ended without it.
    @discardableResult
    func waitForOutput(containing text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !String(decoding: collected, as: UTF8.self).contains(text) {
            if outputClosed { return false }
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }

    /// Waits for the process to exit and its output to end; returns its status, or nil at the deadline.
    func waitForExit(timeout: TimeInterval = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        while !(exited && outputClosed) {
            if !condition.wait(until: deadline) { break }
        }
        let done = exited
        condition.unlock()
        return done ? process.terminationStatus : nil
    }

    func stop() {
        // SIGKILL, because the test runner starts children with SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? input.fileHandleForWriting.close()
    }

    /// Runs a program to completion with `stdin`, killing it after `timeout`.
    static func run(_ executable: String, _ arguments: [String], stdin: String = "",
                    timeout: TimeInterval = 15) throws -> (status: Int32?, output: String) {
        let peer = try PeerProcess(executable, arguments)
        defer { peer.stop() }
        peer.write(stdin)
        peer.closeInput()
        let status = peer.waitForExit(timeout: timeout)
        return (status, peer.output)
    }
}
