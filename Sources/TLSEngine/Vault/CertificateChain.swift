import CLibCrypto
import Synchronization

/// An X.509 certificate chain, leaf first, as DER, loaded from PEM.
public struct CertificateChain: Sendable {
    /// DER certificates, leaf first, in the order a Certificate message sends them.
    public let certificates: [[UInt8]]

    public init(der certificates: [[UInt8]]) { self.certificates = certificates }

    /// Parses every `CERTIFICATE` block of `pem`.
    public init(pem: String) throws {
        let stack: OpaquePointer? = pem.withCString { text in
            capnet_read_pem_certificates(text, Int32(strlen(text)))
        }
        guard let stack else { throw KeyVaultError.invalidKey("malformed PEM certificate block") }
        defer { capnet_x509_stack_free(stack) }
        var certificates: [[UInt8]] = []
        for index in 0..<capnet_x509_stack_count(stack) {
            let certificate = capnet_x509_stack_get(stack, index)
            var output: UnsafeMutablePointer<UInt8>?
            let length = i2d_X509(certificate, &output)
            guard length > 0, let output else { throw KeyVaultError.invalidKey("certificate \(index) does not encode") }
            certificates.append(Array(UnsafeBufferPointer(start: output, count: Int(length))))
            CRYPTO_free(output, #fileID, #line)
        }
        guard !certificates.isEmpty else { throw KeyVaultError.invalidKey("no CERTIFICATE block in the PEM text") }
        self.certificates = certificates
    }

    /// Whether the leaf's public key is the public half of `key`.
    public func leafMatches(_ key: KeyHandle) -> Bool {
        guard let leaf = certificates.first else { return false }
        return leaf.withUnsafeBufferPointer { buffer -> Bool in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let certificate = d2i_X509(nil, &pointer, buffer.count) else { return false }
            defer { X509_free(certificate) }
            let matches = X509_check_private_key(certificate, key.key.pointer) == 1
            ERR_clear_error()
            return matches
        }
    }
}

/// A certificate chain with the key that signs for it as a TLS server.
public struct CertifiedKey: Sendable {
    public let chain: CertificateChain
    public let key: KeyHandle

    /// Pairs `chain` with `key`.
    ///
    /// - Throws: when `key` is not a `tls-server` key or its public half is not the leaf's.
    public init(chain: CertificateChain, key: KeyHandle) throws {
        guard key.purpose == .tlsServer else {
            throw KeyVaultError.wrongPurpose(id: key.id, keyPurpose: key.purpose, requested: .tlsServer)
        }
        guard chain.leafMatches(key) else {
            throw KeyVaultError.invalidKey("key \(key.id) does not match the certificate's public key")
        }
        self.chain = chain
        self.key = key
    }
}

/// The certificates a server presents, chosen by SNI name, swappable at any
/// time: a connection reads one consistent snapshot when its ClientHello arrives.
public final class CertificateSource: Sendable {
    /// One consistent set of certificates.
    public struct Snapshot: Sendable {
        /// Presented when the client sends no name or a name with no entry.
        public var defaultCertificate: CertifiedKey?
        /// By lowercased DNS name; a "*.example.com" key matches one leftmost label.
        public var byName: [String: CertifiedKey]

        public init(defaultCertificate: CertifiedKey?, byName: [String: CertifiedKey] = [:]) {
            self.defaultCertificate = defaultCertificate
            self.byName = byName.reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
        }

        /// The certificate for `serverName`: the exact name, then its wildcard, then the default.
        public func select(serverName: String?) -> CertifiedKey? {
            if let name = serverName?.lowercased() {
                if let exact = byName[name] { return exact }
                if let dot = name.firstIndex(of: "."), let wildcard = byName["*" + name[dot...]] {
                    return wildcard
                }
            }
            return defaultCertificate
        }
    }

    private let current: Mutex<Snapshot>

    public init(_ snapshot: Snapshot) { current = Mutex(snapshot) }

    /// A source with one certificate for every name.
    public convenience init(_ certifiedKey: CertifiedKey) {
        self.init(Snapshot(defaultCertificate: certifiedKey))
    }

    public var snapshot: Snapshot { current.withLock { $0 } }

    /// Replaces every certificate at once; handshakes already past their
    /// ClientHello keep the certificate they chose.
    public func replace(with snapshot: Snapshot) {
        current.withLock { $0 = snapshot }
    }
}
