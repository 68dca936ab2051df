import Foundation
import Synchronization

/// Severity of a log line, lowest first.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case trace, debug, info, notice, warning, error

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        }
    }

    /// Parses a level name as given to `--log-level`.
    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.description == name.lowercased() }) else {
            return nil
        }
        self = level
    }
}

/// The subsystem a log line comes from. Operators filter on these names.
public enum LogCategory: String, Sendable, CaseIterable {
    case main, nic, eth, arp, ip, icmp, udp, tcp, dns, tls, http, acme, ui, sim
}

/// Process-wide logging configuration: the minimum level and where lines go.
///
/// Lines are written whole under a lock, so lines from the run loop and from
/// helper threads never interleave. Messages must never contain secrets
/// (private keys, traffic secrets, admin tokens, key-log lines).
public enum LogConfiguration {
    struct State {
        var minimumLevel: LogLevel = .info
        var sink: (@Sendable (String) -> Void)? = nil
    }

    static let state = Mutex(State())
    // Read without the lock on every call so a disabled level costs one load.
    nonisolated(unsafe) static var cachedMinimumLevel: Int = LogLevel.info.rawValue

    public static var minimumLevel: LogLevel {
        get { state.withLock { $0.minimumLevel } }
        set {
            state.withLock { $0.minimumLevel = newValue }
            cachedMinimumLevel = newValue.rawValue
        }
    }

    /// Sends every line to `sink` in place of standard error; `nil` restores
    /// standard error. Tests use this to assert on log output.
    public static func setSink(_ sink: (@Sendable (String) -> Void)?) {
        state.withLock { $0.sink = sink }
    }

    static func emit(_ line: String) {
        let sink = state.withLock { state -> (@Sendable (String) -> Void)? in
            if let sink = state.sink { return sink }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            return nil
        }
        sink?(line)
    }
}

/// A logger for one category. Cheap to copy; create one per type as a static.
///
/// Messages state the decision and its numbers, followed by `key=value` ids:
/// `log.info("dropped frame: bad checksum", "src=192.0.2.1 len=60")`.
public struct Logger: Sendable {
    public let category: LogCategory

    public init(_ category: LogCategory) { self.category = category }

    @inlinable public func isEnabled(_ level: LogLevel) -> Bool {
        level.rawValue >= LogConfiguration.cachedMinimumLevelValue
    }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String,
                    _ fields: @autoclosure () -> String = "") {
        guard isEnabled(level) else { return }
        let extra = fields()
        let timestamp = Logger.formatTimestamp(wallClockNanoseconds())
        let levelName = level.description.padding(toLength: 7, withPad: " ", startingAt: 0)
        var line = "\(timestamp) \(levelName) \(category.rawValue): \(message())"
        if !extra.isEmpty { line += " " + extra }
        LogConfiguration.emit(line)
    }

    public func trace(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> String = "") {
        log(.trace, message(), fields())
    }
    public func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> String = "") {
        log(.debug, message(), fields())
    }
    public func info(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> String = "") {
        log(.info, message(), fields())
    }
    public func notice(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> String = "") {
        log(.notice, message(), fields())
    }
    public func warning(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> String = "") {
        log(.warning, message(), fields())
    }
    public func error(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> String = "") {
        log(.error, message(), fields())
    }

    /// Formats as RFC 3339 UTC with milliseconds: `2026-12-04T20:30:01.123Z`.
    static func formatTimestamp(_ nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let millis = Int((nanoseconds / 1_000_000) % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }
}

extension LogConfiguration {
    @usableFromInline static var cachedMinimumLevelValue: Int { cachedMinimumLevel }
}

/// Suppresses repeats of one log line: at most `burst` lines per `interval`,
/// then one summary line with the number suppressed. Owned by one thread.
public struct LogRateLimiter: Sendable {
    public let interval: Nanoseconds
    public let burst: Int
    private var windowStart = Instant.zero
    private var emittedInWindow = 0
    public private(set) var suppressed = 0

    public init(interval: Nanoseconds = .seconds(1), burst: Int = 5) {
        self.interval = interval
        self.burst = burst
    }

    /// Returns whether a line may be logged now. When a new window opens
    /// after suppression, `onSuppressed` receives the count dropped.
    public mutating func allow(now: Instant, onSuppressed: (Int) -> Void = { _ in }) -> Bool {
        if now - windowStart >= interval {
            if suppressed > 0 { onSuppressed(suppressed) }
            windowStart = now
            emittedInWindow = 0
            suppressed = 0
        }
        if emittedInWindow < burst {
            emittedInWindow += 1
            return true
        }
        suppressed += 1
        return false
    }
}
