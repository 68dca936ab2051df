import CLibCrypto

/// What a key may be used for. A handle signs only for its own purpose.
public struct KeyPurpose: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Signing TLS CertificateVerify messages as a server.
    public static let tlsServer = KeyPurpose(rawValue: "tls-server")
    /// Signing ACME (RFC 8555) requests as an account.
    public static let acmeAccount = KeyPurpose(rawValue: "acme-account")
    /// Signing certificates as the local development CA; no other purpose may.
    public static let developmentCA = KeyPurpose(rawValue: "development-ca")

    public var description: String { rawValue }
}

/// A capability to sign with one private key for one purpose.
///
/// The handle never returns the private key's bytes: the only operations are
/// signing and reading the public half.
public final class KeyHandle: @unchecked Sendable, CustomStringConvertible {
    /// The vault's identifier for the key, safe to log.
    public let id: String
    public let purpose: KeyPurpose
    let key: LibcryptoKey

    init(id: String, purpose: KeyPurpose, key: LibcryptoKey) {
        self.id = id
        self.purpose = purpose
        self.key = key
    }

    public var algorithm: KeyAlgorithm { key.algorithm }

    /// Signs `message` with `scheme`.
    ///
    /// - Throws: `KeyVaultError.wrongPurpose` when `purpose` is not this
    ///   handle's purpose, and `CryptoError` when the key cannot use `scheme`.
    public func sign(_ scheme: SignatureScheme, message: [UInt8], purpose: KeyPurpose,
                     provider: CryptoProvider = .shared) throws -> [UInt8] {
        guard purpose == self.purpose else {
            throw KeyVaultError.wrongPurpose(id: id, keyPurpose: self.purpose, requested: purpose)
        }
        return try key.sign(scheme, message: message, provider: provider)
    }

    /// The DER SubjectPublicKeyInfo of the public half.
    public func publicKeyDER() -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(key.pointer, &output)
        guard length > 0, let output else { return [] }
        defer { CRYPTO_free(output, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    public var description: String { "KeyHandle(\(id), \(algorithm), \(purpose))" }
}

/// A key vault operation that was rejected.
public enum KeyVaultError: Error, Equatable, CustomStringConvertible {
    case wrongPurpose(id: String, keyPurpose: KeyPurpose, requested: KeyPurpose)
    case notFound(id: String)
    case invalidKey(String)
    case storage(String)
    case developmentKeyInProduction(id: String)

    public var description: String {
        switch self {
        case let .wrongPurpose(id, keyPurpose, requested):
            "key \(id) is for \(keyPurpose), not \(requested)"
        case let .notFound(id):
            "key \(id) not found in the vault"
        case let .invalidKey(reason):
            "invalid key: \(reason)"
        case let .storage(reason):
            "key storage failed: \(reason)"
        case let .developmentKeyInProduction(id):
            "key \(id) comes from the development key source, which the production profile rejects"
        }
    }
}
