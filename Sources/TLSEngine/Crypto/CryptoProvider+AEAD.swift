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

    /// Encrypts `buffer[range]` in place and inserts the tag right after it.
    ///
    /// - Parameters:
    ///   - nonce: `algorithm.nonceLength` bytes, never reused under this key.
    ///   - additionalData: authenticated, not encrypted.
    public func seal(nonce: [UInt8], additionalData: [UInt8], buffer: inout [UInt8], range: Range<Int>) {
        precondition(isSealing && nonce.count == algorithm.nonceLength)
        var tag = [UInt8](repeating: 0, count: algorithm.tagLength)
        let ok = buffer.withUnsafeMutableBufferPointer { bytes -> Bool in
            guard EVP_CipherInit_ex2(context, nil, nil, nonce, 1, nil) == 1 else { return false }
            var outLength: Int32 = 0
            if !additionalData.isEmpty {
                guard EVP_CipherUpdate(context, nil, &outLength, additionalData, Int32(additionalData.count)) == 1
                else { return false }
            }
            let start = bytes.baseAddress! + range.lowerBound
            if !range.isEmpty {
                guard EVP_CipherUpdate(context, start, &outLength, start, Int32(range.count)) == 1
                else { return false }
            }
            var finalLength: Int32 = 0
            guard EVP_CipherFinal_ex(context, start + range.count, &finalLength) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tag.count), &tag) == 1
        }
        // With a valid key and nonce these calls fail only on allocation failure.
        precondition(ok, "AEAD seal failed")
        buffer.insert(contentsOf: tag, at: range.upperBound)
    }

    /// Seals `plaintext` and returns ciphertext followed by the tag.
    public func seal(nonce: [UInt8], additionalData: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var buffer = plaintext
        seal(nonce: nonce, additionalData: additionalData, buffer: &buffer, range: 0..<buffer.count)
        return buffer
    }

    /// Authenticates and decrypts `buffer[range]` (ciphertext then tag) in place.
    ///
    /// - Returns: the plaintext length, which starts at `range.lowerBound`; `nil`
    ///   when the tag does not verify (the caller sends `bad_record_mac`). The
    ///   buffer is left partly decrypted on failure and must be discarded.
    public func open(nonce: [UInt8], additionalData: [UInt8], buffer: inout [UInt8], range: Range<Int>) -> Int? {
        precondition(!isSealing && nonce.count == algorithm.nonceLength)
        guard range.count >= algorithm.tagLength else { return nil }
        let plaintextLength = range.count - algorithm.tagLength
        let ok = buffer.withUnsafeMutableBufferPointer { bytes -> Bool in
            guard EVP_CipherInit_ex2(context, nil, nil, nonce, 0, nil) == 1 else { return false }
            var outLength: Int32 = 0
            if !additionalData.isEmpty {
                guard EVP_CipherUpdate(context, nil, &outLength, additionalData, Int32(additionalData.count)) == 1
                else { return false }
            }
            let start = bytes.baseAddress! + range.lowerBound
            if plaintextLength > 0 {
                guard EVP_CipherUpdate(context, start, &outLength, start, Int32(plaintextLength)) == 1
                else { return false }
            }
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(algorithm.tagLength),
                                      start + plaintextLength) == 1 else { return false }
            var finalLength: Int32 = 0
            return EVP_CipherFinal_ex(context, start + plaintextLength, &finalLength) == 1
        }
        ERR_clear_error()
        return ok ? plaintextLength : nil
    }

    /// Opens `ciphertext` (tag included) and returns the plaintext, or `nil` on a bad tag.
    public func open(nonce: [UInt8], additionalData: [UInt8], ciphertext: [UInt8]) -> [UInt8]? {
        var buffer = ciphertext
        guard let length = open(nonce: nonce, additionalData: additionalData, buffer: &buffer,
                                range: 0..<buffer.count) else { return nil }
        return Array(buffer[0..<length])
    }
}

extension CryptoProvider {
    /// Creates an AEAD context for one direction of a connection.
    public func makeAEAD(_ algorithm: AEADAlgorithm, key: [UInt8], sealing: Bool) throws -> AEADContext {
        try AEADContext(provider: self, algorithm: algorithm, key: key, sealing: sealing)
    }
}
