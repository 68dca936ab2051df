import CLibCrypto

/// The kind of an asymmetric key, which decides the signature schemes it can use.
public enum KeyAlgorithm: Hashable, Sendable, CustomStringConvertible {
    case ecdsaP256
    case ecdsaP384
    case ed25519
    /// RSA with the modulus size in bits.
    case rsa(bits: Int)

    /// The TLS 1.3 signature schemes this key can produce, preferred first (RFC 8446 §4.2.3).
    public var signatureSchemes: [SignatureScheme] {
        switch self {
        case .ecdsaP256: [.ecdsaSecp256r1SHA256]
        case .ecdsaP384: [.ecdsaSecp384r1SHA384]
        case .ed25519: [.ed25519]
        case .rsa: [.rsaPSSRSAESHA256, .rsaPSSRSAESHA384, .rsaPSSRSAESHA512]
        }
    }

    public var description: String {
        switch self {
        case .ecdsaP256: "ecdsa-p256"
        case .ecdsaP384: "ecdsa-p384"
        case .ed25519: "ed25519"
        case .rsa(let bits): "rsa-\(bits)"
        }
    }
}

/// The digest a signature scheme hashes with, or `nil` for Ed25519, which hashes internally.
func signatureDigest(_ scheme: SignatureScheme) -> HashAlgorithm?? {
    switch scheme {
    case .ecdsaSecp256r1SHA256, .rsaPSSRSAESHA256: .some(.sha256)
    case .ecdsaSecp384r1SHA384, .rsaPSSRSAESHA384: .some(.sha384)
    case .rsaPSSRSAESHA512: .some(nil) // SHA-512, fetched by name below
    case .ed25519: .some(nil)
    default: nil
    }
}

/// A libcrypto key (`EVP_PKEY`), private or public, with its algorithm.
///
/// The private half of a key is never returned as bytes by this type; the
/// key vault is the only code that serializes it, to its own storage.
final class LibcryptoKey: @unchecked Sendable {
    let pointer: OpaquePointer
    let algorithm: KeyAlgorithm

    /// Takes ownership of `pointer`.
    init(taking pointer: OpaquePointer) throws {
        self.pointer = pointer
        switch EVP_PKEY_get_base_id(pointer) {
        case EVP_PKEY_ED25519:
            algorithm = .ed25519
        case EVP_PKEY_RSA:
            algorithm = .rsa(bits: Int(EVP_PKEY_get_bits(pointer)))
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            guard capnet_ec_group_name(pointer, &name, name.count) == 1 else {
                EVP_PKEY_free(pointer)
                throw CryptoError("EC key without a named curve")
            }
            let curve = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            switch curve {
            case "prime256v1", "P-256": algorithm = .ecdsaP256
            case "secp384r1", "P-384": algorithm = .ecdsaP384
            default:
                EVP_PKEY_free(pointer)
                throw CryptoError("unsupported EC curve \(curve)")
            }
        default:
            EVP_PKEY_free(pointer)
            throw CryptoError("unsupported key type")
        }
    }

    deinit { EVP_PKEY_free(pointer) }

    /// Prepares a sign or verify context for `scheme` with this key.
    private func withDigestContext<T>(_ scheme: SignatureScheme, provider: CryptoProvider, signing: Bool,
                                      _ body: (OpaquePointer) -> T?) throws -> T {
        guard algorithm.signatureSchemes.contains(scheme), let digestChoice = signatureDigest(scheme) else {
            throw CryptoError("signature scheme \(scheme) with a \(algorithm) key")
        }
        guard let ctx = EVP_MD_CTX_new() else { throw CryptoError("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        var sha512: OpaquePointer?
        defer { if let sha512 { EVP_MD_free(sha512) } }
        var md: OpaquePointer?
        if let digest = digestChoice {
            md = provider.digest(digest)
        } else if scheme == .rsaPSSRSAESHA512 {
            sha512 = EVP_MD_fetch(nil, "SHA2-512", nil)
            md = sha512
        }
        var pctx: OpaquePointer?
        let initialized = signing
            ? EVP_DigestSignInit(ctx, &pctx, md, nil, pointer)
            : EVP_DigestVerifyInit(ctx, &pctx, md, nil, pointer)
        guard initialized == 1 else { throw CryptoError("signature context for \(scheme)") }
        if case .rsa = algorithm {
            // RFC 8446 §4.2.3: RSASSA-PSS with the salt as long as the digest output.
            guard EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 else {
                throw CryptoError("RSA-PSS parameters")
            }
        }
        guard let result = body(ctx) else { throw CryptoError("\(signing ? "signing" : "verifying") with \(scheme)") }
        return result
    }

    func sign(_ scheme: SignatureScheme, message: [UInt8], provider: CryptoProvider) throws -> [UInt8] {
        try withDigestContext(scheme, provider: provider, signing: true) { ctx in
            var length = 0
            guard EVP_DigestSign(ctx, nil, &length, message, message.count) == 1 else { return nil }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(ctx, &signature, &length, message, message.count) == 1 else { return nil }
            return Array(signature[0..<length])
        }
    }

    func verify(_ scheme: SignatureScheme, message: [UInt8], signature: [UInt8], provider: CryptoProvider) -> Bool {
        let result = try? withDigestContext(scheme, provider: provider, signing: false) { ctx in
            EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
        }
        ERR_clear_error()
        return result ?? false
    }
}

/// A public key taken from a certificate, for verifying a peer's CertificateVerify.
public struct PublicKey: @unchecked Sendable {
    let key: LibcryptoKey

    public var algorithm: KeyAlgorithm { key.algorithm }

    /// Checks `signature` over `message` with `scheme`.
    public func verify(_ scheme: SignatureScheme, message: [UInt8], signature: [UInt8],
                       provider: CryptoProvider = .shared) -> Bool {
        key.verify(scheme, message: message, signature: signature, provider: provider)
    }
}
