import CLibCrypto

/// A P-256 private key held by libcrypto, usable as the ACME account key
/// (ES256) and as the certificate key behind a CSR.
///
/// NOTE: production keeps keys in the TLS engine's vault; this type serves
/// tests and any deployment that accepts a key file.
public final class LibCryptoP256Key: ACMEAccountSigner, CertificateRequestSigner {
    /// Length of one P-256 coordinate and of `r` and `s` (SEC 2 §2.4.2).
    static let coordinateLength = 32
    /// SEC 1 §2.3.3: the prefix octet of an uncompressed point.
    static let uncompressedPointPrefix: UInt8 = 0x04
    /// DER of AlgorithmIdentifier { ecdsa-with-SHA256 } with absent
    /// parameters: OID 1.2.840.10045.4.3.2 (RFC 5758 §3.2).
    static let ecdsaWithSHA256Identifier: [UInt8] = [
        0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02,
    ]

    let key: OpaquePointer
    public let keyReference: String
    public let publicJWK: JSONWebKey
    public let subjectPublicKeyInfo: [UInt8]
    public var algorithm: String { "ES256" }
    public var signatureAlgorithmIdentifier: [UInt8] { Self.ecdsaWithSHA256Identifier }

    /// Generates a fresh key with libcrypto's default random generator.
    public static func generate(keyReference: String = "") throws -> LibCryptoP256Key {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw ACMEError.cryptoFailed(operation: "P-256 key generation", detail: LibCryptoError.drain())
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1,
              EVP_PKEY_CTX_set_group_name(context, "P-256") == 1,
              EVP_PKEY_generate(context, &key) == 1, let key else {
            throw ACMEError.cryptoFailed(operation: "P-256 key generation", detail: LibCryptoError.drain())
        }
        return try LibCryptoP256Key(owning: key, keyReference: keyReference)
    }

    /// Loads a private key from DER (PKCS#8 or SEC 1) or PEM text.
    public convenience init(encoded bytes: [UInt8], keyReference: String = "") throws {
        var loaded: OpaquePointer?
        if bytes.starts(with: Array("-----BEGIN".utf8)) {
            let bio = bytes.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
            defer { BIO_free(bio) }
            loaded = PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        } else {
            loaded = bytes.withUnsafeBufferPointer { buffer in
                var cursor = buffer.baseAddress
                return d2i_AutoPrivateKey(nil, &cursor, buffer.count)
            }
        }
        guard let loaded else {
            throw ACMEError.cryptoFailed(operation: "private key load", detail: LibCryptoError.drain())
        }
        try self.init(owning: loaded, keyReference: keyReference)
    }

    private init(owning key: OpaquePointer, keyReference: String) throws {
        self.key = key
        self.keyReference = keyReference
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_EC, EVP_PKEY_get_bits(key) == 256 else {
            EVP_PKEY_free(key)
            throw ACMEError.cryptoFailed(operation: "private key load", detail: "the key is not a P-256 key")
        }

        do {
            publicJWK = try Self.jwk(of: key)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }

        var spkiPointer: UnsafeMutablePointer<UInt8>?
        let spkiLength = i2d_PUBKEY(key, &spkiPointer)
        guard spkiLength > 0, let spkiPointer else {
            EVP_PKEY_free(key)
            throw ACMEError.cryptoFailed(operation: "public key export", detail: LibCryptoError.drain())
        }
        subjectPublicKeyInfo = Array(UnsafeBufferPointer(start: spkiPointer, count: Int(spkiLength)))
        CRYPTO_free(spkiPointer, #fileID, #line)
    }

    deinit { EVP_PKEY_free(key) }

    /// Returns the JWK of a P-256 key: the uncompressed point's coordinates,
    /// read through libcrypto (RFC 7518 §6.2.1).
    static func jwk(of key: OpaquePointer) throws -> JSONWebKey {
        var point = [UInt8](repeating: 0, count: 1 + 2 * coordinateLength)
        var pointLength = 0
        guard EVP_PKEY_get_octet_string_param(key, "pub", &point, point.count, &pointLength) == 1,
              pointLength == point.count, point[0] == uncompressedPointPrefix else {
            throw ACMEError.cryptoFailed(operation: "public key export", detail: LibCryptoError.drain())
        }
        return .ellipticCurve(curve: "P-256", x: Base64URL.encode(point[1...coordinateLength]),
                              y: Base64URL.encode(point[(1 + coordinateLength)...]))
    }

    /// The private key as PKCS#8 DER, for the key file that tests persist.
    public func privateKeyDER() throws -> [UInt8] {
        var pointer: UnsafeMutablePointer<UInt8>?
        let length = i2d_PrivateKey(key, &pointer)
        guard length > 0, let pointer else {
            throw ACMEError.cryptoFailed(operation: "private key export", detail: LibCryptoError.drain())
        }
        defer { CRYPTO_free(pointer, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: pointer, count: Int(length)))
    }

    public func signX509(_ message: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else {
            throw ACMEError.cryptoFailed(operation: "ECDSA signing", detail: LibCryptoError.drain())
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else {
            throw ACMEError.cryptoFailed(operation: "ECDSA signing", detail: LibCryptoError.drain())
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else {
            throw ACMEError.cryptoFailed(operation: "ECDSA signing", detail: LibCryptoError.drain())
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
            throw ACMEError.cryptoFailed(operation: "ECDSA signing", detail: LibCryptoError.drain())
        }
        return Array(signature.prefix(length))
    }

    public func signJWS(_ signingInput: [UInt8]) throws -> [UInt8] {
        try ECDSASignature.raw(fromDER: signX509(signingInput), coordinateLength: Self.coordinateLength)
    }
}
