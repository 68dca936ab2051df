import CapnetBase
import NetStack
import TLSEngine

/// The keyed hash behind TCP initial sequence numbers, SYN cookies,
/// timestamp offsets and ephemeral ports (RFC 6528 §3): HMAC-SHA-256 from
/// libcrypto under a 256-bit secret drawn at start, truncated to 64 bits.
final class HMACTCPSecretHash: TCPKeyedHash {
    /// RFC 6528 asks for a secret the attacker cannot guess; 256 bits matches
    /// the HMAC-SHA-256 block strength.
    static let secretLength = 32

    private let secret: [UInt8]

    init() {
        secret = CryptoProvider.shared.randomBytes(Self.secretLength)
    }

    func hash(_ input: UnsafeRawBufferPointer) -> UInt64 {
        // NOTE: one HMAC per SYN, cookie check or ephemeral port, with two
        // small array allocations; not on the per-segment path.
        let digest = CryptoProvider.shared.hmac(.sha256, key: secret, data: Array(input))
        var value: UInt64 = 0
        for byte in digest.prefix(8) { value = value << 8 | UInt64(byte) }
        return value
    }
}

/// Runs a TCP diagnostic service (echo or discard) on every loop turn.
final class TCPServiceDriver: InterfaceService {
    private let pollService: () -> Void

    init(_ pollService: @escaping () -> Void) { self.pollService = pollService }

    func poll(now: Instant) { pollService() }

    var nextDeadline: Instant? { nil }
}
