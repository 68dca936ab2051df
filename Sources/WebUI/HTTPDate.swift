// The HTTP-date of the Date header field (RFC 9110 §5.6.7), computed from a
// wall-clock time the owner passes in, never read from a clock here.
import CapnetBase

/// A point in Unix time, whole seconds, formatted as an IMF-fixdate.
public struct HTTPDate: Hashable, Sendable, CustomStringConvertible {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) { self.secondsSinceEpoch = secondsSinceEpoch }

    static let secondsPerDay: Int64 = 86_400
    private static let dayNames = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday.
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, RFC 9110 §5.6.7).
    public var imfFixdate: String {
        let days = floorDivide(secondsSinceEpoch, Self.secondsPerDay)
        let secondOfDay = secondsSinceEpoch - days * Self.secondsPerDay
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let weekday = Self.dayNames[Int(((days % 7) + 7) % 7)]
        return "\(weekday), \(pad2(day)) \(Self.monthNames[month - 1]) \(year) "
            + "\(pad2(Int(secondOfDay / 3600))):\(pad2(Int(secondOfDay / 60 % 60))):\(pad2(Int(secondOfDay % 60))) GMT"
    }

    public var description: String { imfFixdate }

    /// Year, month (1...12) and day (1...31) in the proleptic Gregorian
    /// calendar, by counting 400-year eras of 146097 days that start on
    /// 1 March, so the leap day falls at the end of each era-year.
    static func civilDate(daysSinceEpoch: Int64) -> (Int, Int, Int) {
        let daysFrom0000March1 = daysSinceEpoch + 719_468  // 1970-01-01 minus 0000-03-01.
        let era = floorDivide(daysFrom0000March1, 146_097)
        let dayOfEra = daysFrom0000March1 - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March.
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

/// Maps the monotonic `Instant`s the run loop passes in to wall-clock time
/// for Date headers. The owner builds it once from a wall-clock reading
/// taken at a known instant; tests build it from a fixed time.
public struct HTTPDateClock: Hashable, Sendable {
    /// Unix time, in nanoseconds, at `Instant.zero`.
    public var unixNanosecondsAtZero: Int64

    public init(unixNanoseconds: Int64, at instant: Instant) {
        unixNanosecondsAtZero = unixNanoseconds &- instant.nanoseconds
    }

    /// Creates a mapping from one wall-clock reading (`wallClockNanoseconds`) taken at `now`.
    public static func system(now: Instant) -> HTTPDateClock {
        HTTPDateClock(unixNanoseconds: wallClockNanoseconds(), at: now)
    }

    public func date(at instant: Instant) -> HTTPDate {
        HTTPDate(secondsSinceEpoch: floorDivide(unixNanosecondsAtZero &+ instant.nanoseconds, 1_000_000_000))
    }
}

/// Divides rounding toward negative infinity, so times before 1970 fall on the right day.
func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

private func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
