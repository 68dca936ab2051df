import CapnetBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The congestion window of one connection: slow start and congestion
/// avoidance per RFC 5681, with NewReno (RFC 6582) or CUBIC (RFC 9438)
/// growth. Windows are in bytes; CUBIC's arithmetic is in segments.
struct TCPCongestionControl {
    let algorithm: TCPCongestionControlAlgorithm
    private(set) var mss: Int
    private(set) var congestionWindow: Int
    private(set) var slowStartThreshold: Int = .max
    /// NewReno congestion avoidance: bytes acknowledged since the last increase.
    private var bytesAckedInAvoidance = 0

    /// RFC 9438 §4.1: C = 0.4 and beta_cubic = 0.7.
    static let cubicC = 0.4
    static let cubicBeta = 0.7
    /// RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta).
    static let cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)

    /// W_max: the window before the last reduction, in segments.
    private var windowMax = 0.0
    /// The window when the current congestion-avoidance epoch began.
    private var epochStart: Instant?
    private var epochWindow = 0.0
    private var k = 0.0
    /// W_est, the Reno-friendly estimate (RFC 9438 §4.3), in segments.
    private var renoEstimate = 0.0

    init(algorithm: TCPCongestionControlAlgorithm, mss: Int) {
        self.algorithm = algorithm
        self.mss = mss
        congestionWindow = Self.initialWindow(mss: mss)
    }

    /// RFC 6928: IW = min(10 * MSS, max(2 * MSS, 14600)).
    static func initialWindow(mss: Int) -> Int { min(10 * mss, max(2 * mss, 14600)) }

    var inSlowStart: Bool { congestionWindow < slowStartThreshold }

    /// Applies a cumulative ACK of new data outside loss recovery.
    mutating func onAck(ackedBytes: Int, now: Instant, smoothedRTT: Nanoseconds?) {
        guard ackedBytes > 0 else { return }
        if inSlowStart {
            // RFC 5681 §3.1 eq. (2): increase by at most SMSS per ACK.
            congestionWindow += min(ackedBytes, mss)
            return
        }
        switch algorithm {
        case .newReno:
            // RFC 5681 §3.1 eq. (3), counted in bytes (RFC 3465 §2.1).
            bytesAckedInAvoidance += ackedBytes
            if bytesAckedInAvoidance >= congestionWindow {
                bytesAckedInAvoidance -= congestionWindow
                congestionWindow += mss
            }
        case .cubic:
            cubicIncrease(ackedBytes: ackedBytes, now: now, smoothedRTT: smoothedRTT)
        }
    }

    private mutating func cubicIncrease(ackedBytes: Int, now: Instant, smoothedRTT: Nanoseconds?) {
        let cwnd = Double(congestionWindow) / Double(mss)
        if epochStart == nil {
            // RFC 9438 §4.2: a new epoch starts at the first ACK in congestion avoidance.
            epochStart = now
            epochWindow = cwnd
            if windowMax < cwnd { windowMax = cwnd }
            k = cbrt((windowMax - cwnd) / Self.cubicC)
            renoEstimate = cwnd
        }
        let t = (now - epochStart!).seconds  // set just above
        let rtt = smoothedRTT?.seconds ?? 0
        let cubicNow = Self.cubicC * pow(t - k, 3) + windowMax
        let ackedSegments = Double(ackedBytes) / Double(mss)

        // RFC 9438 §4.3: W_est grows by alpha per window of ACKs; alpha is 1 past W_max.
        let alpha = renoEstimate >= windowMax ? 1.0 : Self.cubicAlpha
        renoEstimate += alpha * ackedSegments / cwnd

        var next: Double
        if cubicNow < renoEstimate {
            next = renoEstimate  // Reno-friendly region (§4.3).
        } else {
            // RFC 9438 §4.4/§4.5: aim for W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd].
            let target = min(max(Self.cubicC * pow(t + rtt - k, 3) + windowMax, cwnd), 1.5 * cwnd)
            next = cwnd + (target - cwnd) / cwnd * ackedSegments
        }
        congestionWindow = max(congestionWindow, Int(next * Double(mss)))
    }

    /// Enters fast recovery (RFC 5681 §3.2 step 2, RFC 9438 §4.6).
    mutating func onCongestionEvent(flightSize: Int) {
        switch algorithm {
        case .newReno:
            slowStartThreshold = max(flightSize / 2, 2 * mss)
        case .cubic:
            let cwnd = Double(congestionWindow) / Double(mss)
            // RFC 9438 §4.7 fast convergence.
            windowMax = cwnd < windowMax ? cwnd * (1 + Self.cubicBeta) / 2 : cwnd
            slowStartThreshold = max(Int(Double(congestionWindow) * Self.cubicBeta), 2 * mss)
            epochStart = nil
        }
        congestionWindow = slowStartThreshold
        bytesAckedInAvoidance = 0
    }

    /// RFC 5681 §3.1 eq. (4) and §3.1 loss window; RFC 9438 §4.8.
    mutating func onRetransmitTimeout(flightSize: Int) {
        onCongestionEvent(flightSize: flightSize)
        congestionWindow = mss
    }

    /// NewReno without SACK inflates the window by one MSS per duplicate ACK (RFC 6582 §3.2 step 3).
    mutating func inflate(by bytes: Int) { congestionWindow += bytes }

    /// RFC 6582 §3.2 step 5: partial ACK deflation.
    mutating func deflate(by bytes: Int) { congestionWindow = max(congestionWindow - bytes, mss) }

    /// RFC 6582 §3.2 step 6 (full ACK): cwnd = min(ssthresh, FlightSize + SMSS).
    mutating func exitRecovery(flightSize: Int) {
        congestionWindow = min(slowStartThreshold, max(flightSize, 0) + mss)
        congestionWindow = max(congestionWindow, mss)
    }

    /// RFC 7661-style restart is not done; RFC 5681 §4.1 restart after idle.
    mutating func restartAfterIdle() {
        congestionWindow = min(congestionWindow, Self.initialWindow(mss: mss))
        epochStart = nil
    }
}
