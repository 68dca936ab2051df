import CLibCrypto

/// SHA-256 and HMAC-SHA-256 through libcrypto, for JWK thumbprints
/// (RFC 7638 §3) and External Account Binding MACs (RFC 8555 §7.3.4).
enum LibCryptoDigest {
    /// Output length of SHA-256 in bytes (FIPS 180-4 §1).
    static let sha256Length = 32

    /// Returns SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) throws -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        guard ok == 1, Int(length) == sha256Length else {
            throw ACMEError.cryptoFailed(operation: "SHA-256", detail: LibCryptoError.drain())
        }
        return Array(digest.prefix(Int(length)))
    }

    /// Returns HMAC-SHA-256 of `data` under `key` (RFC 2104), through an
    /// EVP_PKEY of type HMAC so that no OSSL_PARAM array is needed.
    static func hmacSHA256(key: [UInt8], data: [UInt8]) throws -> [UInt8] {
        guard let macKey = EVP_PKEY_new_raw_private_key_ex(nil, "HMAC", nil, key, key.count) else {
            throw ACMEError.cryptoFailed(operation: "HMAC-SHA-256", detail: LibCryptoError.drain())
        }
        defer { EVP_PKEY_free(macKey) }
        guard let context = EVP_MD_CTX_new() else {
            throw ACMEError.cryptoFailed(operation: "HMAC-SHA-256", detail: LibCryptoError.drain())
        }
        defer { EVP_MD_CTX_free(context) }
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = mac.count
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, macKey) == 1,
              EVP_DigestSign(context, &mac, &length, data, data.count) == 1,
              length == sha256Length else {
            throw ACMEError.cryptoFailed(operation: "HMAC-SHA-256", detail: LibCryptoError.drain())
        }
        return Array(mac.prefix(length))
    }
}

/// Reads libcrypto's thread-local error queue into a message.
enum LibCryptoError {
    /// Upper bound on queued errors read into one message, so a flooded queue
    /// cannot grow the message without limit.
    static let maxQueuedErrors = 8

    /// Empties the error queue and returns its entries joined by "; ".
    static func drain() -> String {
        var parts: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if parts.count < maxQueuedErrors {
                ERR_error_string_n(code, &buffer, buffer.count)
                parts.append(String(cString: buffer))
            }
        }
        return parts.isEmpty ? "no libcrypto error queued" : parts.joined(separator: "; ")
    }
}
