/// The TLS 1.3 key schedule (RFC 8446 §7.1) for one cipher suite's hash.
///
/// Stateless: each function takes the secret it derives from, so the
/// handshake state machine owns the secrets and drops each one when its stage
/// ends.
public struct KeySchedule {
    public let hash: HashAlgorithm
    let provider: CryptoProvider

    public init(hash: HashAlgorithm, provider: CryptoProvider = .shared) {
        self.hash = hash
        self.provider = provider
    }

    /// `HKDF-Expand-Label(Secret, Label, Context, Length)` with the "tls13 " prefix (RFC 8446 §7.1).
    public func expandLabel(secret: [UInt8], label: String, context: [UInt8], length: Int) -> [UInt8] {
        var hkdfLabel = ByteWriter(capacity: 4 + Self.labelPrefix.count + label.utf8.count + context.count)
        hkdfLabel.writeUInt16(UInt16(length))
        // Written in place: joining two arrays here cost three allocations per call.
        hkdfLabel.writeNested(prefixBytes: 1) { writer in
            writer.writeBytes(Self.labelPrefix.utf8)
            writer.writeBytes(label.utf8)
        }
        hkdfLabel.writeOpaque(prefixBytes: 1, context)
        return provider.hkdfExpand(hash, pseudorandomKey: secret, info: hkdfLabel.bytes, length: length)
    }

    /// The prefix every HkdfLabel label carries (RFC 8446 §7.1).
    static let labelPrefix = "tls13 "

    /// `Derive-Secret(Secret, Label, Messages)` given `Transcript-Hash(Messages)`.
    public func deriveSecret(_ secret: [UInt8], label: String, transcriptHash: [UInt8]) -> [UInt8] {
        expandLabel(secret: secret, label: label, context: transcriptHash, length: hash.outputLength)
    }

    /// The hash of the empty string, the context of every "derived" step.
    public var emptyHash: [UInt8] { provider.hash(hash, []) }

    private var zeros: [UInt8] { [UInt8](repeating: 0, count: hash.outputLength) }

    /// Early Secret = HKDF-Extract(0, PSK), with a zero PSK when none is used.
    public func earlySecret(preSharedKey: [UInt8]?) -> [UInt8] {
        provider.hkdfExtract(hash, salt: zeros, inputKeyMaterial: preSharedKey ?? zeros)
    }

    /// Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""), (EC)DHE).
    public func handshakeSecret(earlySecret: [UInt8], sharedSecret: [UInt8]) -> [UInt8] {
        let salt = deriveSecret(earlySecret, label: "derived", transcriptHash: emptyHash)
        return provider.hkdfExtract(hash, salt: salt, inputKeyMaterial: sharedSecret)
    }

    /// Master Secret = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0).
    public func masterSecret(handshakeSecret: [UInt8]) -> [UInt8] {
        let salt = deriveSecret(handshakeSecret, label: "derived", transcriptHash: emptyHash)
        return provider.hkdfExtract(hash, salt: salt, inputKeyMaterial: zeros)
    }

    /// The binder key for a resumption PSK ("res binder") or an external one ("ext binder").
    public func binderKey(earlySecret: [UInt8], external: Bool) -> [UInt8] {
        deriveSecret(earlySecret, label: external ? "ext binder" : "res binder", transcriptHash: emptyHash)
    }

    /// `finished_key` (RFC 8446 §4.4.4).
    public func finishedKey(baseKey: [UInt8]) -> [UInt8] {
        expandLabel(secret: baseKey, label: "finished", context: [], length: hash.outputLength)
    }

    /// `verify_data = HMAC(finished_key, Transcript-Hash(...))` (RFC 8446 §4.4.4); also the PSK binder (§4.2.11.2).
    public func finishedVerifyData(baseKey: [UInt8], transcriptHash: [UInt8]) -> [UInt8] {
        provider.hmac(hash, key: finishedKey(baseKey: baseKey), data: transcriptHash)
    }

    /// `application_traffic_secret_N+1` (RFC 8446 §7.2).
    public func nextApplicationTrafficSecret(_ secret: [UInt8]) -> [UInt8] {
        expandLabel(secret: secret, label: "traffic upd", context: [], length: hash.outputLength)
    }

    /// The PSK a NewSessionTicket with `ticketNonce` stands for (RFC 8446 §4.6.1).
    public func resumptionPSK(resumptionMasterSecret: [UInt8], ticketNonce: [UInt8]) -> [UInt8] {
        expandLabel(secret: resumptionMasterSecret, label: "resumption", context: ticketNonce,
                    length: hash.outputLength)
    }

    /// The write key and IV for a traffic secret (RFC 8446 §7.3).
    public func trafficKeys(secret: [UInt8], aead: AEADAlgorithm) -> (key: [UInt8], iv: [UInt8]) {
        (expandLabel(secret: secret, label: "key", context: [], length: aead.keyLength),
         expandLabel(secret: secret, label: "iv", context: [], length: aead.nonceLength))
    }
}
