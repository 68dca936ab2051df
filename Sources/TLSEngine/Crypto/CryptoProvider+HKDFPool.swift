import CLibCrypto
import Synchronization

/// Idle HKDF contexts for one hash and one mode (extract or expand), with
/// the digest and mode already set, lent out for one operation at a time.
///
/// Setting HKDF's digest by name makes libcrypto fetch it. OpenSSL 3.0 cannot
/// copy an HKDF context (`EVP_KDF_CTX_dup` returns NULL for it), so whole
/// contexts are reused: the fetch then happens once per context, not on each
/// of the 22 HKDF steps of a full handshake. A returned context contains no
/// secret, because `capnet_hkdf_run` empties its key and salt or info.
final class HKDFContextPool: @unchecked Sendable {
    /// The maximum number of idle contexts kept. Threads that overlap get new
    /// contexts, and a returned context beyond this many is freed.
    static let maxIdle = 8

    private let kdf: OpaquePointer
    private let digestName: String
    private let extract: Int32
    private let idle = Mutex<[OpaquePointer]>([])

    /// Creates an empty pool. Each context made from `kdf` holds its own reference to it.
    init(kdf: OpaquePointer, hash: HashAlgorithm, extract: Bool) {
        self.kdf = kdf
        digestName = hash.libcryptoName
        self.extract = extract ? 1 : 0
    }

    deinit {
        for context in idle.withLock({ $0 }) { EVP_KDF_CTX_free(context) }
    }

    /// Runs one HKDF step: `key` is the input keying material (extract) or
    /// the pseudorandom key (expand), `other` the salt (extract) or the info
    /// (expand). Fills `output` and returns whether libcrypto succeeded.
    func run(key: [UInt8], other: [UInt8], output: inout [UInt8]) -> Bool {
        // OpenSSL 3.0 mishandles an empty salt or info on a used context (see
        // capnet_hkdf_run), so those rare calls get a fresh context. TLS 1.3
        // always passes a salt and an HkdfLabel, so its steps all reuse.
        guard !other.isEmpty else {
            let status = extract == 1
                ? capnet_hkdf_extract(kdf, digestName, other, 0, key, key.count, &output, output.count)
                : capnet_hkdf_expand(kdf, digestName, key, key.count, other, 0, &output, output.count)
            return status == 1
        }
        let lent = idle.withLock { $0.popLast() }
        guard let context = lent ?? capnet_hkdf_context(kdf, digestName, extract) else { return false }
        let ok = capnet_hkdf_run(context, extract, key, key.count, other, other.count, &output, output.count) == 1
        let kept = ok && idle.withLock { contexts in
            guard contexts.count < Self.maxIdle else { return false }
            contexts.append(context)
            return true
        }
        if !kept { EVP_KDF_CTX_free(context) }
        return ok
    }
}
