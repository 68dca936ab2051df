/// Command line options of bench-virtio.
struct BenchOptions {
    /// Frames each end sends in one run.
    var framesEachWay = 100_000
    /// Frame lengths to measure, Ethernet header included, FCS excluded.
    var frameLengths = [64, 1514]
    /// Frames per transmit batch.
    var batchSize = 32
    /// Runs per harness and frame length; the median is reported.
    var runs = 5
    /// Seconds one run may take before it stops with what it has.
    var runTimeLimitSeconds = 30

    /// Bounds that keep every run short and every batch within the queues:
    /// 128 receive buffers are posted per virtio-net device, and the
    /// in-memory link queues 256 frames.
    static let framesRange = 1...10_000_000
    static let frameLengthRange = 60...1514
    static let batchRange = 1...64
    static let runsRange = 1...21
    static let timeLimitRange = 1...120

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static let usage = """
        Usage: bench-virtio [--frames N] [--sizes L[,L...]] [--batch N] [--runs N] [--time-limit SECONDS]

        Measures Ethernet frames per second, both directions together, through
        two capnet virtio-net drivers joined by simulated devices (HostSim), and
        through an in-memory MemoryLinkDevice pair as the reference. Every run
        stops after --frames each way or --time-limit, whichever comes first.

        Defaults: --frames 100000 --sizes 64,1514 --batch 32 --runs 5 --time-limit 30
        Build it in release mode: swift build -c release --product bench-virtio
        """

    static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions()
        var rest = arguments[...]
        while let name = rest.popFirst() {
            guard let value = rest.popFirst() else {
                throw UsageError(description: "missing value for \(name); run bench-virtio --help for usage")
            }
            switch name {
            case "--frames": options.framesEachWay = try number(value, name, framesRange)
            case "--batch": options.batchSize = try number(value, name, batchRange)
            case "--runs": options.runs = try number(value, name, runsRange)
            case "--time-limit": options.runTimeLimitSeconds = try number(value, name, timeLimitRange)
            case "--sizes":
                options.frameLengths = try value.split(separator: ",").map { try number(String($0), name, frameLengthRange) }
            default: throw UsageError(description: "unknown option '\(name)'; run bench-virtio --help for usage")
            }
        }
        return options
    }

    static func number(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(description: "invalid value '\(text)' for \(name): expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
