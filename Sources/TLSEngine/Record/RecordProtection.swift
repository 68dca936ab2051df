/// The AEAD state of one direction under one traffic secret (RFC 8446 §5.2–§5.3).
final class RecordProtection {
    let aead: AEADContext
    private let iv: [UInt8]
    private var nonce: [UInt8]
    private(set) var sequenceNumber: UInt64 = 0

    init(provider: CryptoProvider, algorithm: AEADAlgorithm, key: [UInt8], iv: [UInt8], sealing: Bool) throws {
        aead = try provider.makeAEAD(algorithm, key: key, sealing: sealing)
        self.iv = iv
        nonce = iv
    }

    /// Derives the key and IV from `secret` with `schedule`.
    convenience init(schedule: KeySchedule, algorithm: AEADAlgorithm, secret: [UInt8], sealing: Bool) throws {
        let keys = schedule.trafficKeys(secret: secret, aead: algorithm)
        try self.init(provider: schedule.provider, algorithm: algorithm, key: keys.key, iv: keys.iv, sealing: sealing)
    }

    /// Returns the per-record nonce, the 64-bit sequence number left-padded to
    /// the IV length and XORed with the IV (RFC 8446 §5.3), and advances the sequence number.
    func nextNonce() throws -> [UInt8] {
        // RFC 8446 §5.3: the sequence number must not wrap. A connection that
        // reaches 2^64 - 1 records fails here, since the engine does not rekey on its own.
        guard sequenceNumber < UInt64.max else {
            throw TLSError(.internalError, "record sequence number exhausted")
        }
        // Rewritten in place: the previous record's nonce is no longer referenced,
        // so the array stays unique and no record allocates a nonce.
        let count = nonce.count
        for i in 0..<count {
            nonce[i] = iv[i]
        }
        for i in 0..<8 {
            nonce[count - 1 - i] ^= UInt8((sequenceNumber >> (8 * UInt64(i))) & 0xFF)
        }
        sequenceNumber += 1
        return nonce
    }

    func setSequenceNumber(_ value: UInt64) { sequenceNumber = value }
}

/// How much zero padding to add to protected records (RFC 8446 §5.4).
public enum RecordPaddingPolicy: Sendable, Equatable {
    /// No padding: records are as long as their content.
    case none
    /// Pads each record's inner plaintext up to a multiple of this many bytes,
    /// within the record size limit, to hide exact lengths.
    case multipleOf(Int)
}
