/// A TCP sequence number: arithmetic modulo 2^32 (RFC 9293 §3.4).
///
/// Comparisons are only meaningful between numbers less than 2^31 apart, as
/// in RFC 1982 serial number arithmetic; TCP windows are far smaller.
public struct TCPSeq: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public static func + (lhs: TCPSeq, rhs: Int) -> TCPSeq {
        TCPSeq(lhs.rawValue &+ UInt32(truncatingIfNeeded: rhs))
    }

    @inlinable public static func - (lhs: TCPSeq, rhs: Int) -> TCPSeq {
        TCPSeq(lhs.rawValue &- UInt32(truncatingIfNeeded: rhs))
    }

    @inlinable public static func += (lhs: inout TCPSeq, rhs: Int) { lhs = lhs + rhs }

    /// The signed distance `lhs - rhs`.
    @inlinable public static func - (lhs: TCPSeq, rhs: TCPSeq) -> Int {
        Int(Int32(bitPattern: lhs.rawValue &- rhs.rawValue))
    }

    @inlinable public static func < (lhs: TCPSeq, rhs: TCPSeq) -> Bool { lhs - rhs < 0 }
    @inlinable public static func <= (lhs: TCPSeq, rhs: TCPSeq) -> Bool { lhs - rhs <= 0 }
    @inlinable public static func > (lhs: TCPSeq, rhs: TCPSeq) -> Bool { lhs - rhs > 0 }
    @inlinable public static func >= (lhs: TCPSeq, rhs: TCPSeq) -> Bool { lhs - rhs >= 0 }

    @inlinable public static func max(_ a: TCPSeq, _ b: TCPSeq) -> TCPSeq { a > b ? a : b }
    @inlinable public static func min(_ a: TCPSeq, _ b: TCPSeq) -> TCPSeq { a < b ? a : b }

    /// True when `low <= self < high` in sequence space.
    @inlinable public func isIn(_ low: TCPSeq, _ high: TCPSeq) -> Bool {
        self - low >= 0 && high - self > 0
    }

    public var description: String { String(rawValue) }
}
