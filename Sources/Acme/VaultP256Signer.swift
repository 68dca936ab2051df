import CLibCrypto
import TLSEngine

/// A P-256 key from the TLS engine's key vault, used through its handle: as
/// the ACME account key (purpose `acme-account`, ES256 JWS) or as the
/// certificate key behind a CSR (purpose `tls-server`). The private half
/// stays in the vault, and this type only calls the handle's `sign`.
public final class VaultP256Signer: ACMEAccountSigner, CertificateRequestSigner {
    public let handle: KeyHandle
    public let publicJWK: JSONWebKey
    public let subjectPublicKeyInfo: [UInt8]
    public var algorithm: String { "ES256" }
    public var keyReference: String { "vault:" + handle.id }
    public var signatureAlgorithmIdentifier: [UInt8] { LibCryptoP256Key.ecdsaWithSHA256Identifier }

    /// Wraps `handle`, which must hold a P-256 key.
    public init(handle: KeyHandle) throws {
        guard handle.algorithm == .ecdsaP256 else {
            throw ACMEError.invalidConfiguration(
                "key \(handle.id) is \(handle.algorithm), but ACME keys must be P-256 (ES256): destroy it or choose another id")
        }
        self.handle = handle
        subjectPublicKeyInfo = handle.publicKeyDER()
        publicJWK = try Self.jwk(fromSubjectPublicKeyInfo: subjectPublicKeyInfo)
    }

    /// Loads the key `id` from `vault`, or generates it when absent.
    public static func loadOrGenerate(in vault: KeyVault, id: String, purpose: KeyPurpose) throws -> VaultP256Signer {
        if vault.list().contains(where: { $0.id == id }) {
            return try VaultP256Signer(handle: vault.handle(id: id, purpose: purpose))
        }
        return try VaultP256Signer(handle: vault.generate(.ecdsaP256, purpose: purpose, id: id))
    }

    public func signJWS(_ signingInput: [UInt8]) throws -> [UInt8] {
        let der = try handle.sign(.ecdsaSecp256r1SHA256, message: signingInput, purpose: handle.purpose)
        return try ECDSASignature.raw(fromDER: der, coordinateLength: LibCryptoP256Key.coordinateLength)
    }

    public func signX509(_ message: [UInt8]) throws -> [UInt8] {
        try handle.sign(.ecdsaSecp256r1SHA256, message: message, purpose: handle.purpose)
    }

    /// Returns the JWK of a P-256 SubjectPublicKeyInfo.
    static func jwk(fromSubjectPublicKeyInfo spki: [UInt8]) throws -> JSONWebKey {
        let parsed: OpaquePointer? = spki.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let key = parsed else {
            throw ACMEError.cryptoFailed(operation: "public key parse", detail: LibCryptoError.drain())
        }
        defer { EVP_PKEY_free(key) }
        return try LibCryptoP256Key.jwk(of: key)
    }
}
