import CLibCrypto

/// The AEAD algorithms of the TLS 1.3 cipher suites (RFC 8446 §B.4).
public enum AEADAlgorithm: Sendable {
    case aes128GCM
    case aes256GCM
    case chacha20Poly1305

    public var keyLength: Int {
        switch self {
        case .aes128GCM: 16
        case .aes256GCM, .chacha20Poly1305: 32
        }
    }

    /// The nonce length; RFC 8446 §5.3 sets iv_length to max(8, N_MIN) = 12 for all three.
    public var nonceLength: Int { 12 }

    /// The authentication tag length; 16 bytes for all three (RFC 5116 §5.1, RFC 8439 §2.8).
    public var tagLength: Int { 16 }
}

/// An AEAD key bound to one direction, reusing one `EVP_CIPHER_CTX` for every record.
///
/// The key is set once; each call sets only the nonce. Not thread-safe: one
/// connection direction owns it.
public final class AEADContext {
    public let algorithm: AEADAlgorithm
    private let context: OpaquePointer
    private let isSealing: Bool

    init(provider: CryptoProvider, algorithm: AEADAlgorithm, key: [UInt8], sealing: Bool) throws {
        precondition(key.count == algorithm.keyLength, "AEAD key length does not match the algorithm")
        self.algorithm = algorithm
        isSealing = sealing
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError("EVP_CIPHER_CTX_new") }
        self.context = context
        let cipher: OpaquePointer = switch algorithm {
        case .aes128GCM: provider.aes128GCM
        case .aes256GCM: provider.aes256GCM
        case .chacha20Poly1305: provider.chacha20Poly1305
        }
        guard EVP_CipherInit_ex2(context, cipher, key, nil, sealing ? 1 : 0, nil) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw CryptoError("EVP_CipherInit_ex2")
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `buffer[plaintext]` in place and writes the tag into the
    /// `tagLength` bytes that follow it, which the caller reserves.
    /// `buffer[additionalData]` is authenticated, not encrypted; it must not
    /// overlap the plaintext. No memory is allocated.
    ///
    /// - Parameter nonce: `algorithm.nonceLength` bytes, never reused under this key.
    public func seal(nonce: [UInt8], buffer: inout [UInt8], additionalData: Range<Int>, plaintext: Range<Int>) {
        precondition(isSealing && nonce.count == algorithm.nonceLength)
        precondition(plaintext.upperBound + algorithm.tagLength <= buffer.count, "no room reserved for the tag")
        let tagLength = algorithm.tagLength
        let ok = buffer.withUnsafeMutableBufferPointer { bytes -> Bool in
            // Safe: the preconditions above keep every range inside the buffer.
            let base = bytes.baseAddress!
            guard EVP_CipherInit_ex2(context, nil, nil, nonce, 1, nil) == 1 else { return false }
            var outLength: Int32 = 0
            if !additionalData.isEmpty {
                guard EVP_CipherUpdate(context, nil, &outLength, base + additionalData.lowerBound,
                                       Int32(additionalData.count)) == 1 else { return false }
            }
            let start = base + plaintext.lowerBound
            if !plaintext.isEmpty {
                guard EVP_CipherUpdate(context, start, &outLength, start, Int32(plaintext.count)) == 1
                else { return false }
            }
            var finalLength: Int32 = 0
            guard EVP_CipherFinal_ex(context, start + plaintext.count, &finalLength) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tagLength), start + plaintext.count) == 1
        }
        // With a valid key and nonce these calls fail only on allocation failure.
        precondition(ok, "AEAD seal failed")
    }

    /// Seals `plaintext` and returns ciphertext followed by the tag.
    public func seal(nonce: [UInt8], additionalData: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var buffer = additionalData + plaintext + [UInt8](repeating: 0, count: algorithm.tagLength)
        seal(nonce: nonce, buffer: &buffer, additionalData: 0..<additionalData.count,
             plaintext: additionalData.count..<(additionalData.count + plaintext.count))
        return Array(buffer[additionalData.count...])
    }

    /// Authenticates and decrypts `buffer[ciphertext]` (ciphertext then tag)
    /// in place; `buffer[additionalData]` is the authenticated header.
    ///
    /// - Returns: the plaintext length, which starts at `ciphertext.lowerBound`;
    ///   `nil` when the tag does not verify (the caller sends `bad_record_mac`).
    ///   The buffer is left partly decrypted on failure and must be discarded.
    public func open(nonce: [UInt8], buffer: inout [UInt8], additionalData: Range<Int>, ciphertext: Range<Int>) -> Int? {
        precondition(!isSealing && nonce.count == algorithm.nonceLength)
        guard ciphertext.count >= algorithm.tagLength else { return nil }
        let plaintextLength = ciphertext.count - algorithm.tagLength
        let tagLength = algorithm.tagLength
        let ok = buffer.withUnsafeMutableBufferPointer { bytes -> Bool in
            // Safe: both ranges come from the caller's checked record boundaries.
            let base = bytes.baseAddress!
            guard EVP_CipherInit_ex2(context, nil, nil, nonce, 0, nil) == 1 else { return false }
            var outLength: Int32 = 0
            if !additionalData.isEmpty {
                guard EVP_CipherUpdate(context, nil, &outLength, base + additionalData.lowerBound,
                                       Int32(additionalData.count)) == 1 else { return false }
            }
            let start = base + ciphertext.lowerBound
            if plaintextLength > 0 {
                guard EVP_CipherUpdate(context, start, &outLength, start, Int32(plaintextLength)) == 1
                else { return false }
            }
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(tagLength),
                                      start + plaintextLength) == 1 else { return false }
            var finalLength: Int32 = 0
            return EVP_CipherFinal_ex(context, start + plaintextLength, &finalLength) == 1
        }
        ERR_clear_error()
        return ok ? plaintextLength : nil
    }

    /// Opens `ciphertext` (tag included) and returns the plaintext, or `nil` on a bad tag.
    public func open(nonce: [UInt8], additionalData: [UInt8], ciphertext: [UInt8]) -> [UInt8]? {
        var buffer = additionalData + ciphertext
        guard let length = open(nonce: nonce, buffer: &buffer, additionalData: 0..<additionalData.count,
                                ciphertext: additionalData.count..<buffer.count) else { return nil }
        return Array(buffer[additionalData.count..<(additionalData.count + length)])
    }
}

extension CryptoProvider {
    /// Creates an AEAD context for one direction of a connection.
    public func makeAEAD(_ algorithm: AEADAlgorithm, key: [UInt8], sealing: Bool) throws -> AEADContext {
        try AEADContext(provider: self, algorithm: algorithm, key: key, sealing: sealing)
    }
}
