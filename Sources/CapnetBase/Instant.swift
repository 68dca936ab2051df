#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point on a monotonic clock, in nanoseconds since an arbitrary origin.
///
/// State machines never read a clock themselves: the run loop passes the
/// current `Instant` in, so the same code runs under the wall clock in
/// production and under a virtual clock in the simulator.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)
    /// A time later than any deadline the stack schedules.
    public static let distantFuture = Instant(nanoseconds: .max / 2)

    @inlinable public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    @inlinable public static func + (lhs: Instant, rhs: Nanoseconds) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.value)
    }

    @inlinable public static func - (lhs: Instant, rhs: Nanoseconds) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.value)
    }

    @inlinable public static func - (lhs: Instant, rhs: Instant) -> Nanoseconds {
        Nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    public var description: String {
        let ms = Double(nanoseconds) / 1_000_000
        return "\(ms)ms"
    }
}

/// A span of time in nanoseconds. A plain integer wrapper: `Swift.Duration`
/// is 128 bits wide and slower to add on a per-packet path.
public struct Nanoseconds: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: Int64

    @inlinable public init(_ value: Int64) { self.value = value }

    @inlinable public static func microseconds(_ n: Int64) -> Nanoseconds { Nanoseconds(n * 1_000) }
    @inlinable public static func milliseconds(_ n: Int64) -> Nanoseconds { Nanoseconds(n * 1_000_000) }
    @inlinable public static func seconds(_ n: Int64) -> Nanoseconds { Nanoseconds(n * 1_000_000_000) }
    public static let zero = Nanoseconds(0)

    @inlinable public static func < (lhs: Nanoseconds, rhs: Nanoseconds) -> Bool { lhs.value < rhs.value }
    @inlinable public static func + (lhs: Nanoseconds, rhs: Nanoseconds) -> Nanoseconds { Nanoseconds(lhs.value + rhs.value) }
    @inlinable public static func - (lhs: Nanoseconds, rhs: Nanoseconds) -> Nanoseconds { Nanoseconds(lhs.value - rhs.value) }
    @inlinable public static func * (lhs: Nanoseconds, rhs: Int64) -> Nanoseconds { Nanoseconds(lhs.value * rhs) }

    public var milliseconds: Double { Double(value) / 1_000_000 }
    public var seconds: Double { Double(value) / 1_000_000_000 }

    public var description: String { "\(milliseconds)ms" }
}

/// A source of the current time. Production uses `MonotonicTimeSource`; the
/// simulator uses a virtual clock that advances only when told to.
public protocol TimeSource: AnyObject {
    func now() -> Instant
}

/// `CLOCK_MONOTONIC`, which never jumps when the wall clock is set.
public final class MonotonicTimeSource: TimeSource {
    public init() {}

    public func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}

/// A clock that moves only when `advance` is called, for deterministic tests.
public final class VirtualTimeSource: TimeSource {
    public private(set) var current: Instant

    public init(start: Instant = Instant(nanoseconds: 1_000_000_000)) { current = start }

    public func now() -> Instant { current }

    public func advance(by span: Nanoseconds) { current = current + span }

    public func advance(to instant: Instant) {
        if current < instant { current = instant }
    }
}

/// The wall clock (`CLOCK_REALTIME`) in nanoseconds since the Unix epoch, for
/// capture timestamps and certificate validity, never for protocol timers.
public func wallClockNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
