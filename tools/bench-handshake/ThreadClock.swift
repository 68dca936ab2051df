#if canImport(Glibc)
import Glibc
#endif

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in nanoseconds.
///
/// The benchmark runs client and server on one thread and reads this clock
/// around the server's calls only, so the client's work is not counted.
enum ThreadClock {
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Int64(spec.tv_sec) * nanosecondsPerSecond + Int64(spec.tv_nsec)
    }

    /// Wall time (`CLOCK_MONOTONIC`), in nanoseconds, for the run's time bound.
    static func wall() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * nanosecondsPerSecond + Int64(spec.tv_nsec)
    }

    static let nanosecondsPerSecond: Int64 = 1_000_000_000
}

/// Server CPU time accumulated over a counted number of operations.
struct CPUTally {
    var nanoseconds: Int64 = 0
    var count = 0

    /// Runs `body` and adds its thread CPU time.
    mutating func measure<T>(_ body: () throws -> T) rethrows -> T {
        let start = ThreadClock.now()
        defer { nanoseconds += ThreadClock.now() - start }
        return try body()
    }

    var microsecondsPerOperation: Double {
        count == 0 ? 0 : Double(nanoseconds) / Double(count) / 1_000
    }
}
