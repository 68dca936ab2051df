import CapnetBase

/// The retransmission timer's estimate of RFC 6298.
struct TCPRTTEstimator {
    /// RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4.
    static let alphaShift: Int64 = 3
    static let betaShift: Int64 = 2
    static let k: Int64 = 4
    /// Clock granularity G of RFC 6298 §2 (the stack keeps nanoseconds; 1 ms
    /// keeps RTTVAR from collapsing on a simulated link with fixed delay).
    static let granularity = Nanoseconds.milliseconds(1)
    /// RFC 6298 §5.5: backing off doubles the RTO; 2^maximumBackoff bounds the shift.
    static let maximumBackoff = 16

    private(set) var smoothedRTT: Nanoseconds?
    private(set) var rttVariance = Nanoseconds.zero
    /// The RTO before backoff.
    private(set) var baseRTO: Nanoseconds
    private(set) var backoff = 0
    let minimumRTO: Nanoseconds
    let maximumRTO: Nanoseconds

    init(configuration: TCPConfiguration) {
        baseRTO = configuration.initialRTO
        minimumRTO = configuration.minimumRTO
        maximumRTO = configuration.maximumRTO
    }

    /// The RTO with backoff applied, clamped to the maximum (RFC 6298 §2.5).
    var rto: Nanoseconds {
        let shifted = baseRTO.value << Int64(min(backoff, Self.maximumBackoff))
        return Nanoseconds(min(max(shifted, baseRTO.value), maximumRTO.value))
    }

    /// Feeds one measurement (RFC 6298 §2.2 and §2.3). Karn's rule is the
    /// caller's: never sample a retransmitted segment unless timestamps tell them apart.
    mutating func sample(_ rtt: Nanoseconds) {
        let measured = Nanoseconds(max(rtt.value, 0))
        if let srtt = smoothedRTT {
            let delta = Nanoseconds(abs(srtt.value - measured.value))
            rttVariance = Nanoseconds(rttVariance.value - (rttVariance.value >> Self.betaShift) + (delta.value >> Self.betaShift))
            smoothedRTT = Nanoseconds(srtt.value - (srtt.value >> Self.alphaShift) + (measured.value >> Self.alphaShift))
        } else {
            smoothedRTT = measured
            rttVariance = Nanoseconds(measured.value / 2)
        }
        let srtt = smoothedRTT!  // set just above
        let variance = max(Self.granularity.value, Self.k * rttVariance.value)
        baseRTO = Nanoseconds(min(max(srtt.value + variance, minimumRTO.value), maximumRTO.value))
        // RFC 6298 §5.7 leaves the backed-off value in place until a new
        // sample; a new sample resets it.
        backoff = 0
    }

    /// RFC 6298 §5.5: doubles the RTO after a timeout.
    mutating func backOff() { backoff += 1 }

    /// RFC 6298 §5.7: the RTO for data after a SYN or SYN-ACK timed out.
    static let rtoAfterSynTimeout = Nanoseconds.seconds(3)

    /// Applies RFC 6298 §5.7 when the handshake ends: if the SYN timed out and
    /// no RTT sample exists, data starts with an RTO of 3 s and no backoff.
    mutating func finishHandshake(synTimedOut: Bool) {
        guard synTimedOut, smoothedRTT == nil else { return }
        baseRTO = min(max(baseRTO, Self.rtoAfterSynTimeout), maximumRTO)
        backoff = 0
    }
}
