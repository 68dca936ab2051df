import CLibCrypto

/// A libcrypto failure or a peer value that libcrypto rejected.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    /// What failed, with libcrypto's reason when it gave one.
    public let description: String

    init(_ operation: String) {
        let code = ERR_get_error()
        ERR_clear_error()
        if code == 0 {
            description = "\(operation) failed"
        } else {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            description = "\(operation) failed: \(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))"
        }
    }
}

/// The hash functions TLS 1.3 cipher suites use (RFC 8446 §B.4).
public enum HashAlgorithm: Sendable {
    case sha256
    case sha384

    /// The output length in bytes, `Hash.length` in RFC 8446 §7.1.
    public var outputLength: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        }
    }

    /// libcrypto's algorithm name, as given to `EVP_MD_fetch` and the KDF/MAC digest parameter.
    var libcryptoName: String {
        switch self {
        case .sha256: "SHA2-256"
        case .sha384: "SHA2-384"
        }
    }
}

/// The libcrypto algorithms TLSEngine uses, each fetched once at creation and
/// reused for every operation (OpenSSL 3 resolves a name on every fetch, which
/// costs a lock and a lookup).
///
/// Fetched algorithm objects are immutable and safe to share across threads;
/// the per-operation contexts (`EVP_MD_CTX`, `EVP_CIPHER_CTX`) are not, so they
/// live in the objects this provider creates, each owned by one connection.
public final class CryptoProvider: @unchecked Sendable {
    /// A provider for the whole process, fetched on first use.
    public static let shared: CryptoProvider = {
        do {
            return try CryptoProvider()
        } catch {
            // The algorithms fetched here ship with every libcrypto 3.0 build.
            fatalError("libcrypto lacks a TLS 1.3 algorithm: \(error)")
        }
    }()

    let sha256: OpaquePointer
    let sha384: OpaquePointer
    let hkdf: OpaquePointer
    let hmacMAC: OpaquePointer
    /// HMAC contexts with the digest set, copied for each HMAC: setting the
    /// digest by name would fetch it again on every call.
    let hmacSHA256: OpaquePointer
    let hmacSHA384: OpaquePointer
    private let hkdfPools: [HKDFContextPool]
    let aes128GCM: OpaquePointer
    let aes256GCM: OpaquePointer
    let chacha20Poly1305: OpaquePointer

    public init() throws {
        func fetchDigest(_ name: String) throws -> OpaquePointer {
            guard let md = EVP_MD_fetch(nil, name, nil) else { throw CryptoError("EVP_MD_fetch \(name)") }
            return md
        }
        func fetchCipher(_ name: String) throws -> OpaquePointer {
            guard let cipher = EVP_CIPHER_fetch(nil, name, nil) else { throw CryptoError("EVP_CIPHER_fetch \(name)") }
            return cipher
        }
        sha256 = try fetchDigest("SHA2-256")
        sha384 = try fetchDigest("SHA2-384")
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw CryptoError("EVP_KDF_fetch HKDF") }
        hkdf = kdf
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { throw CryptoError("EVP_MAC_fetch HMAC") }
        hmacMAC = mac
        func hmacTemplate(_ algorithm: HashAlgorithm) throws -> OpaquePointer {
            guard let context = capnet_hmac_template(mac, algorithm.libcryptoName) else {
                throw CryptoError("HMAC context for \(algorithm.libcryptoName)")
            }
            return context
        }
        hmacSHA256 = try hmacTemplate(.sha256)
        hmacSHA384 = try hmacTemplate(.sha384)
        // Order: SHA-256 extract, SHA-256 expand, SHA-384 extract, SHA-384 expand (see `hkdfPool`).
        hkdfPools = [HashAlgorithm.sha256, .sha384].flatMap { hash in
            [true, false].map { HKDFContextPool(kdf: kdf, hash: hash, extract: $0) }
        }
        aes128GCM = try fetchCipher("AES-128-GCM")
        aes256GCM = try fetchCipher("AES-256-GCM")
        chacha20Poly1305 = try fetchCipher("ChaCha20-Poly1305")
    }

    deinit {
        EVP_MD_free(sha256)
        EVP_MD_free(sha384)
        EVP_KDF_free(hkdf)
        EVP_MAC_free(hmacMAC)
        EVP_MAC_CTX_free(hmacSHA256)
        EVP_MAC_CTX_free(hmacSHA384)
        EVP_CIPHER_free(aes128GCM)
        EVP_CIPHER_free(aes256GCM)
        EVP_CIPHER_free(chacha20Poly1305)
    }

    func digest(_ algorithm: HashAlgorithm) -> OpaquePointer {
        switch algorithm {
        case .sha256: sha256
        case .sha384: sha384
        }
    }

    // MARK: Hashes, HMAC and HKDF

    /// Hashes `data` in one call.
    public func hash(_ algorithm: HashAlgorithm, _ data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: algorithm.outputLength)
        var length: UInt32 = 0
        let ok = data.withUnsafeBufferPointer { input in
            EVP_Digest(input.baseAddress, input.count, &output, &length, digest(algorithm), nil)
        }
        // EVP_Digest fails only on allocation failure with a fetched digest.
        precondition(ok == 1 && Int(length) == algorithm.outputLength, "EVP_Digest failed")
        return output
    }

    /// Starts an incremental hash, used for the handshake transcript.
    public func makeTranscriptHash(_ algorithm: HashAlgorithm) -> TranscriptHash {
        TranscriptHash(algorithm: algorithm, digest: digest(algorithm))
    }

    /// HMAC (RFC 2104) of `data` under `key`.
    public func hmac(_ algorithm: HashAlgorithm, key: [UInt8], data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: algorithm.outputLength)
        var length = 0
        let template = algorithm == .sha256 ? hmacSHA256 : hmacSHA384
        let ok = capnet_hmac_with_template(template, key, key.count, data, data.count, &output, output.count, &length)
        precondition(ok == 1 && length == algorithm.outputLength, "HMAC failed")
        return output
    }

    /// HKDF-Extract (RFC 5869 §2.2): returns a pseudorandom key of `Hash.length` bytes.
    public func hkdfExtract(_ algorithm: HashAlgorithm, salt: [UInt8], inputKeyMaterial: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: algorithm.outputLength)
        let ok = hkdfPool(algorithm, extract: true).run(key: inputKeyMaterial, other: salt, output: &output)
        precondition(ok, "HKDF-Extract failed")
        return output
    }

    /// HKDF-Expand (RFC 5869 §2.3). `length` is at most 255 × `Hash.length`.
    public func hkdfExpand(_ algorithm: HashAlgorithm, pseudorandomKey: [UInt8], info: [UInt8],
                           length: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: length)
        let ok = hkdfPool(algorithm, extract: false).run(key: pseudorandomKey, other: info, output: &output)
        precondition(ok, "HKDF-Expand failed")
        return output
    }

    private func hkdfPool(_ algorithm: HashAlgorithm, extract: Bool) -> HKDFContextPool {
        let first = algorithm == .sha256 ? 0 : 2
        return hkdfPools[first + (extract ? 0 : 1)]
    }

    // MARK: Randomness

    /// Returns `count` bytes from libcrypto's CSPRNG (`RAND_bytes`).
    public func randomBytes(_ count: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        let ok = RAND_bytes(&output, Int32(count))
        // RAND_bytes fails only when the system entropy source is unusable,
        // and no key or nonce may be made then.
        precondition(ok == 1, "RAND_bytes failed")
        return output
    }
}

/// An incremental hash over the handshake messages (RFC 8446 §4.4.1).
public final class TranscriptHash {
    public let algorithm: HashAlgorithm
    private let context: OpaquePointer

    init(algorithm: HashAlgorithm, digest: OpaquePointer) {
        self.algorithm = algorithm
        // EVP_MD_CTX_new fails only on allocation failure.
        context = EVP_MD_CTX_new()!
        precondition(EVP_DigestInit_ex2(context, digest, nil) == 1, "EVP_DigestInit_ex2 failed")
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds handshake message bytes, headers included.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
        }
    }

    /// Adds a slice of handshake message bytes without copying them.
    public func update(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
        }
    }

    /// The hash of everything added so far; the running hash goes on.
    public func current() -> [UInt8] {
        let copy = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(copy) }
        precondition(EVP_MD_CTX_copy_ex(copy, context) == 1, "EVP_MD_CTX_copy_ex failed")
        var output = [UInt8](repeating: 0, count: algorithm.outputLength)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(copy, &output, &length) == 1, "EVP_DigestFinal_ex failed")
        return output
    }

    /// Restarts the hash empty.
    public func reset() {
        precondition(EVP_DigestInit_ex2(context, nil, nil) == 1, "EVP_DigestInit_ex2 failed")
    }
}
