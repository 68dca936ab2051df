import CapnetBase
import HostSim
import NIC

#if canImport(Glibc)
import Glibc
#endif

// bench-virtio: frames per second through the virtio-net driver against the
// simulated device, beside the same harness over an in-memory link. A
// benchmark, not a test: it prints numbers and checks only that every frame
// arrived intact.

/// Exit statuses: 0 when every run delivered every frame intact, 1 when a
/// run lost, damaged or timed out, 2 for invalid options.
enum ExitStatus {
    static let success: Int32 = 0
    static let incomplete: Int32 = 1
    static let usage: Int32 = 2
}

/// Frames in each end's pool: 128 posted receive buffers and room to transmit.
let poolSlots = 512

/// One way of joining two ends.
struct Harness {
    let name: String
    /// Makes the two ends and the step that carries frames between them.
    let make: () throws -> (FrameDevice, FrameDevice, () -> Void)
}

let harnesses = [
    Harness(name: "virtio-net driver <-> simulated device") {
        var optionsB = SimulatedVirtioNetDevice.Options()
        optionsB.macAddress = MACAddress(0x02, 0, 0, 0, 0, 0x02)
        let simA = SimulatedVirtioNetDevice(location: "sim:a")
        let simB = SimulatedVirtioNetDevice(location: "sim:b", options: optionsB)
        let a = try VirtioNetDevice(transport: simA, pool: FramePool(slotCount: poolSlots),
                                    configuration: .init(name: "virtio-a"))
        let b = try VirtioNetDevice(transport: simB, pool: FramePool(slotCount: poolSlots),
                                    configuration: .init(name: "virtio-b"))
        simA.onTransmit = { simB.deliver($0) }
        simB.onTransmit = { simA.deliver($0) }
        return (a, b, {
            simA.processTransmitQueue()
            simB.processTransmitQueue()
        })
    },
    Harness(name: "MemoryLinkDevice pair (reference)") {
        let (a, b) = MemoryLinkDevice.makePair(poolSlots: poolSlots)
        return (a, b, {})
    },
]

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func format(_ value: Double) -> String {
    String(Int(value.rounded()))
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains(where: { $0 == "-h" || $0 == "--help" }) {
    print(BenchOptions.usage)
    exit(ExitStatus.success)
}
let options: BenchOptions
do {
    options = try BenchOptions.parse(arguments)
} catch {
    print("bench-virtio: \(error)")
    exit(ExitStatus.usage)
}

/// Runs every harness for every frame length and prints the medians.
/// Returns false when a run lost, damaged or timed out.
func measure(_ options: BenchOptions) throws -> Bool {
    let clock = MonotonicTimeSource()
    var complete = true
    print("frames each way: \(options.framesEachWay), batch: \(options.batchSize), runs: \(options.runs) (median shown)")
    for length in options.frameLengths {
        var medians: [Double] = []
        for harness in harnesses {
            var rates: [Double] = []
            for _ in 0..<options.runs {
                let (a, b, step) = try harness.make()
                let pump = FramePump(a: a, b: b, step: step, frameLength: length, batchSize: options.batchSize)
                let result = try pump.run(framesEachWay: options.framesEachWay,
                                          deadline: .seconds(Int64(options.runTimeLimitSeconds)), clock: clock)
                a.close()
                b.close()
                if result.received != 2 * options.framesEachWay || result.corrupted > 0 || result.timedOut {
                    complete = false
                    print("  incomplete run: received \(result.received) of \(2 * options.framesEachWay), "
                          + "\(result.corrupted) out of order or wrong length, timed out: \(result.timedOut)")
                }
                rates.append(result.framesPerSecond)
            }
            let middle = median(rates)
            medians.append(middle)
            print("\(length)-byte frames, \(harness.name): \(format(middle)) frames/s "
                  + "(runs: \(rates.map(format).joined(separator: ", ")))")
        }
        if medians.count == 2, medians[1] > 0 {
            let ratioThousandths = (medians[0] / medians[1] * 1000).rounded()
            print("\(length)-byte frames, virtio-net / memory link: \(ratioThousandths / 1000)")
        }
    }
    return complete
}

// Each run creates and closes two devices, which log at info level; only
// problems matter here.
LogConfiguration.minimumLevel = .warning

do {
    exit(try measure(options) ? ExitStatus.success : ExitStatus.incomplete)
} catch {
    print("bench-virtio: \(error)")
    exit(ExitStatus.incomplete)
}
