import CapnetBase

/// The faults applied to one direction of a device.
public struct FaultProfile: Sendable, Equatable {
    /// Probability (0...1) that a frame is dropped.
    public var loss: Double
    /// Probability (0...1) that a frame is sent twice.
    public var duplicate: Double
    /// Probability (0...1) that a frame is held back until the next frame in
    /// the same direction has gone (so the two swap places), or for at most
    /// `FaultInjectionConfig.reorderHold` after its delay when none follows.
    public var reorder: Double
    /// How long every frame is held before it goes on.
    public var delay: Nanoseconds

    public init(loss: Double = 0, duplicate: Double = 0, reorder: Double = 0, delay: Nanoseconds = .zero) {
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.delay = delay
    }

    public static let none = FaultProfile()
}

/// Seeded faults for `FaultInjectingDevice`, for each direction separately.
///
/// The command-line form is a comma-separated list of `key=value` pairs:
/// `loss=P,dup=P,reorder=P,delay=MS,seed=N`. `loss`, `dup`, `reorder` and
/// `delay` set both directions; prefixed with `rx.` or `tx.` (as in
/// `rx.loss=0.1`) they set one. Probabilities are fractions (`0.05`) or
/// percentages (`5%`); `delay` and `hold` are milliseconds. `queue` sets
/// `queueLimit`, and `hold` sets `reorderHold`.
public struct FaultInjectionConfig: Sendable, Equatable {
    public var receive: FaultProfile
    public var transmit: FaultProfile
    /// The seed of both directions' generators; the same seed and the same
    /// frames give the same faults.
    public var seed: UInt64
    /// The maximum frames each direction keeps for delay and reordering. A
    /// frame that finds the queue full is dropped and counted in
    /// `DeviceCounters.injectedQueueOverflows`.
    public var queueLimit: Int
    /// The maximum time a reordered frame waits for a successor, after its delay.
    public var reorderHold: Nanoseconds

    public static let defaultQueueLimit = 1024
    public static let defaultReorderHold = Nanoseconds.milliseconds(10)
    public static let probabilityRange = 0.0...1.0
    public static let delayRangeMilliseconds = 0.0...60_000.0
    public static let queueLimitRange = 1...65_536

    public init(receive: FaultProfile = .none, transmit: FaultProfile = .none, seed: UInt64 = 1,
                queueLimit: Int = FaultInjectionConfig.defaultQueueLimit,
                reorderHold: Nanoseconds = FaultInjectionConfig.defaultReorderHold) {
        self.receive = receive
        self.transmit = transmit
        self.seed = seed
        self.queueLimit = queueLimit
        self.reorderHold = reorderHold
    }

    /// Parses the command-line form, such as `loss=0.01,delay=5,seed=7`.
    /// Throws a `DeviceError` (`.invalidArgument`) that names the bad pair
    /// and the valid range.
    public init(parsing text: String) throws {
        self.init()
        let pairs = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingSpaces() }
        guard !text.trimmingSpaces().isEmpty else {
            throw DeviceError(.invalidArgument,
                              "fault options are empty: give key=value pairs such as loss=0.01,delay=5,seed=1")
        }
        var seen = Set<String>()
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else {
                throw DeviceError(.invalidArgument, "fault option '\(pair)' has no '=': write it as key=value, such as loss=0.01")
            }
            let key = pair[..<equals].lowercased()
            let value = String(pair[pair.index(after: equals)...])
            guard seen.insert(key).inserted else {
                throw DeviceError(.invalidArgument, "fault option '\(key)' is given twice: give each key once")
            }
            try apply(key: key, value: value, pair: pair)
        }
    }

    private static let directionalKeys = ["loss", "dup", "reorder", "delay"]
    private static let validKeys = "loss, dup, reorder, delay (each optionally prefixed rx. or tx.), seed, queue, hold"

    private mutating func apply(key: String, value: String, pair: String) throws {
        switch key {
        case "seed":
            self.seed = try Self.parseSeed(value, pair: pair)
            return
        case "queue":
            guard let limit = Int(value), Self.queueLimitRange.contains(limit) else {
                throw DeviceError(.invalidArgument,
                                  "fault option '\(pair)': '\(value)' is not a queue limit: give a whole number of frames in \(Self.queueLimitRange.lowerBound)...\(Self.queueLimitRange.upperBound)")
            }
            queueLimit = limit
            return
        case "hold":
            reorderHold = try Self.parseMilliseconds(value, pair: pair)
            return
        default:
            break
        }

        var name = Substring(key)
        var setsReceive = true
        var setsTransmit = true
        if name.hasPrefix("rx.") {
            setsTransmit = false
            name = name.dropFirst(3)
        } else if name.hasPrefix("tx.") {
            setsReceive = false
            name = name.dropFirst(3)
        }
        guard Self.directionalKeys.contains(String(name)) else {
            throw DeviceError(.invalidArgument, "fault option '\(pair)' has an unknown key '\(key)': valid keys are \(Self.validKeys)")
        }
        func update(_ profile: inout FaultProfile) throws {
            switch name {
            case "loss": profile.loss = try Self.parseProbability(value, pair: pair)
            case "dup": profile.duplicate = try Self.parseProbability(value, pair: pair)
            case "reorder": profile.reorder = try Self.parseProbability(value, pair: pair)
            default: profile.delay = try Self.parseMilliseconds(value, pair: pair)
            }
        }
        if setsReceive { try update(&receive) }
        if setsTransmit { try update(&transmit) }
    }

    static func parseProbability(_ value: String, pair: String) throws -> Double {
        let isPercent = value.hasSuffix("%")
        let number = Double(isPercent ? String(value.dropLast()) : value)
        guard let number, number.isFinite else {
            throw DeviceError(.invalidArgument,
                              "fault option '\(pair)': '\(value)' is not a probability: give a number from 0 to 1, or 0% to 100%")
        }
        let probability = isPercent ? number / 100 : number
        guard probabilityRange.contains(probability) else {
            throw DeviceError(.invalidArgument,
                              "fault option '\(pair)': \(value) is out of range: a probability is from 0 to 1, or 0% to 100%")
        }
        return probability
    }

    static func parseMilliseconds(_ value: String, pair: String) throws -> Nanoseconds {
        guard let ms = Double(value), ms.isFinite else {
            throw DeviceError(.invalidArgument,
                              "fault option '\(pair)': '\(value)' is not a time: give milliseconds from 0 to \(Int(delayRangeMilliseconds.upperBound)), such as 5 or 0.5")
        }
        guard delayRangeMilliseconds.contains(ms) else {
            throw DeviceError(.invalidArgument,
                              "fault option '\(pair)': \(value) ms is out of range: give 0 to \(Int(delayRangeMilliseconds.upperBound)) milliseconds")
        }
        return Nanoseconds(Int64((ms * 1_000_000).rounded()))
    }

    static func parseSeed(_ value: String, pair: String) throws -> UInt64 {
        let lower = value.lowercased()
        let seed = lower.hasPrefix("0x") ? UInt64(lower.dropFirst(2), radix: 16) : UInt64(lower)
        guard let seed else {
            throw DeviceError(.invalidArgument,
                              "fault option '\(pair)': '\(value)' is not a seed: give a whole number from 0 to \(UInt64.max) (decimal, or hex with 0x)")
        }
        return seed
    }
}

extension StringProtocol {
    /// Returns the text without leading and trailing spaces or tabs.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
