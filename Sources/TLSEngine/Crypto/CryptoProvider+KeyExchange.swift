import CLibCrypto

/// An ephemeral (EC)DHE private key for one handshake's key share (RFC 8446 §4.2.8).
public final class KeyExchangePrivateKey {
    public let group: NamedGroup
    /// The `key_exchange` bytes to send: 32 bytes for X25519 (RFC 7748), the
    /// uncompressed SEC 1 point for NIST curves (RFC 8446 §4.2.8.2).
    public let publicKeyBytes: [UInt8]
    private let key: OpaquePointer

    /// The groups this engine can generate and use.
    public static let supportedGroups: [NamedGroup] = [.x25519, .secp256r1, .secp384r1]

    /// libcrypto's curve name for a NIST group, or `nil` for X25519 and unknown groups.
    static func curveName(_ group: NamedGroup) -> String? {
        switch group {
        case .secp256r1: "P-256"
        case .secp384r1: "P-384"
        default: nil
        }
    }

    /// The exact `key_exchange` length a peer must send for `group`.
    static func publicKeyLength(_ group: NamedGroup) -> Int? {
        switch group {
        case .x25519: 32
        case .secp256r1: 65 // 0x04 || X (32) || Y (32)
        case .secp384r1: 97 // 0x04 || X (48) || Y (48)
        default: nil
        }
    }

    /// Generates a fresh key for `group`.
    public init(group: NamedGroup) throws {
        self.group = group
        var generated: OpaquePointer?
        if group == .x25519 {
            guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "X25519", nil) else { throw CryptoError("X25519 context") }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_generate(ctx, &generated) == 1 else {
                throw CryptoError("X25519 key generation")
            }
        } else if let curve = Self.curveName(group) {
            guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw CryptoError("EC context") }
            defer { EVP_PKEY_CTX_free(ctx) }
            guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, curve) == 1,
                  EVP_PKEY_generate(ctx, &generated) == 1 else {
                throw CryptoError("\(curve) key generation")
            }
        } else {
            throw CryptoError("key share for \(group)")
        }
        // Both generate paths above either set the key or threw.
        key = generated!

        if group == .x25519 {
            var bytes = [UInt8](repeating: 0, count: 32)
            var length = bytes.count
            guard EVP_PKEY_get_raw_public_key(key, &bytes, &length) == 1, length == 32 else {
                EVP_PKEY_free(key)
                throw CryptoError("X25519 public key")
            }
            publicKeyBytes = bytes
        } else {
            var encoded: UnsafeMutablePointer<UInt8>?
            let length = EVP_PKEY_get1_encoded_public_key(key, &encoded)
            guard length > 0, let encoded else {
                EVP_PKEY_free(key)
                throw CryptoError("EC public key encoding")
            }
            publicKeyBytes = Array(UnsafeBufferPointer(start: encoded, count: length))
            CRYPTO_free(encoded, #fileID, #line)
        }
    }

    /// Imports a fixed X25519 private key, for reproducing published traces in tests.
    init(x25519PrivateKey: [UInt8]) throws {
        group = .x25519
        guard let imported = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, x25519PrivateKey,
                                                          x25519PrivateKey.count) else {
            throw CryptoError("X25519 private key import")
        }
        key = imported
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = bytes.count
        guard EVP_PKEY_get_raw_public_key(key, &bytes, &length) == 1 else {
            EVP_PKEY_free(key)
            throw CryptoError("X25519 public key")
        }
        publicKeyBytes = bytes
    }

    deinit { EVP_PKEY_free(key) }

    /// Computes the shared secret with the peer's `key_exchange` bytes.
    ///
    /// - Throws: when the peer's value has the wrong length, is not a valid
    ///   point, or gives the all-zero X25519 output (RFC 8446 §7.4.2); the
    ///   handshake then ends with `illegal_parameter`.
    public func sharedSecret(peerPublicKey: [UInt8]) throws -> [UInt8] {
        guard peerPublicKey.count == Self.publicKeyLength(group) else {
            throw CryptoError("key share length \(peerPublicKey.count) for \(group)")
        }
        let peer: OpaquePointer?
        if group == .x25519 {
            peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peerPublicKey, peerPublicKey.count)
        } else {
            // RFC 8446 §4.2.8.2 allows only the uncompressed form.
            guard peerPublicKey.first == 0x04 else { throw CryptoError("compressed or invalid EC point") }
            peer = capnet_ec_public_key(Self.curveName(group), peerPublicKey, peerPublicKey.count)
        }
        guard let peer else { throw CryptoError("peer key share for \(group)") }
        defer { EVP_PKEY_free(peer) }

        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else { throw CryptoError("derive context") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var length = 0
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, peer) == 1,
              EVP_PKEY_derive(ctx, nil, &length) == 1 else {
            throw CryptoError("key agreement for \(group)")
        }
        var secret = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_derive(ctx, &secret, &length) == 1 else { throw CryptoError("key agreement for \(group)") }
        secret.removeSubrange(length...)
        if group == .x25519 && secret.allSatisfy({ $0 == 0 }) {
            throw CryptoError("X25519 gave the all-zero shared secret")
        }
        return secret
    }
}
