import CLibCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Trusted root certificates, and chain verification through libcrypto's
/// `X509_verify_cert` at a time the caller gives.
public final class TrustStore: @unchecked Sendable {
    private let store: OpaquePointer

    /// Trusts every certificate in `pem`.
    public convenience init(pem: String) throws {
        try self.init(certificates: try CertificateChain(pem: pem).certificates, allowsPartialChain: false)
    }

    /// Trusts every DER certificate in `certificates`. With
    /// `allowsPartialChain`, an intermediate among them is a trust anchor
    /// too (X509_V_FLAG_PARTIAL_CHAIN): that checks a chain against the
    /// issuer it came with when its root is not at hand.
    public init(certificates: [[UInt8]], allowsPartialChain: Bool) throws {
        guard let store = X509_STORE_new() else { throw CryptoError("X509_STORE_new") }
        self.store = store
        if allowsPartialChain {
            guard X509_STORE_set_flags(store, UInt(X509_V_FLAG_PARTIAL_CHAIN)) == 1 else {
                throw CryptoError("X509_STORE_set_flags")
            }
        }
        for der in certificates {
            guard let certificate = Self.parse(der) else { throw KeyVaultError.invalidKey("unreadable root certificate") }
            defer { X509_free(certificate) }
            guard X509_STORE_add_cert(store, certificate) == 1 else { throw CryptoError("X509_STORE_add_cert") }
        }
    }

    deinit { X509_STORE_free(store) }

    /// The system bundle on Debian and Ubuntu (package ca-certificates).
    public static let systemBundlePath = "/etc/ssl/certs/ca-certificates.crt"

    /// Trusts the system's root certificates, read from the PEM bundle at `path`.
    public static func system(path: String = TrustStore.systemBundlePath) throws -> TrustStore {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw KeyVaultError.storage("cannot read the system trust bundle \(path) (errno \(errno)): "
                + "install the ca-certificates package or give the roots as a PEM file")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                throw KeyVaultError.storage("reading the system trust bundle \(path) failed (errno \(errno))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return try TrustStore(pem: String(decoding: bytes, as: UTF8.self))
    }

    static func parse(_ der: [UInt8]) -> OpaquePointer? {
        der.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &pointer, buffer.count)
        }
    }

    /// Verifies `chain` (leaf first, DER) for `serverName`, a DNS name or an IP
    /// literal, at `time` (seconds since the Unix epoch), and returns the leaf's public key.
    public func verify(chain: [[UInt8]], serverName: String, time: Int64) throws -> PublicKey {
        guard let leafDER = chain.first, let leaf = Self.parse(leafDER) else {
            throw TLSError(.badCertificate, "server certificate does not parse")
        }
        defer { X509_free(leaf) }
        guard let untrusted = capnet_x509_stack_new() else { throw TLSError(.internalError, "X509 stack allocation") }
        defer { capnet_x509_stack_free(untrusted) }
        for der in chain.dropFirst() {
            guard let intermediate = Self.parse(der) else {
                throw TLSError(.badCertificate, "intermediate certificate does not parse")
            }
            capnet_x509_stack_push(untrusted, intermediate)
        }

        let isAddress = serverName.contains(":") || serverName.allSatisfy { $0.isNumber || $0 == "." }
        let code = isAddress
            ? capnet_verify_server_certificate(store, leaf, untrusted, time, nil, serverName)
            : capnet_verify_server_certificate(store, leaf, untrusted, time, serverName, nil)
        guard code == X509_V_OK else {
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            let kind: TLSError.Kind = switch code {
            case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID: .certificateExpired
            case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                 X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: .unknownCA
            default: .badCertificate
            }
            throw TLSError(kind, "certificate for \(serverName) rejected: \(reason)")
        }
        guard let key = X509_get_pubkey(leaf) else { throw TLSError(.badCertificate, "leaf has no public key") }
        do {
            return PublicKey(key: try LibcryptoKey(taking: key))
        } catch {
            throw TLSError(.badCertificate, "leaf public key unsupported: \(error)")
        }
    }
}
