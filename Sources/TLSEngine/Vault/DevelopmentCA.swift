import CapnetBase
import CLibCrypto

/// A certificate authority for local development runs: its key lives in the
/// key vault under the `development-ca` purpose, its self-signed certificate in
/// `<state directory>/ca.pem`, and it issues short-lived server certificates,
/// so a client that trusts `ca.pem` (`curl --cacert DIR/ca.pem`) trusts the server.
///
/// The production profile rejects it: a production server presents a
/// certificate from `--cert`/`--key` or from ACME.
public final class DevelopmentCA: @unchecked Sendable {
    static let log = Logger(.tls)

    /// The CA key's id in the vault.
    public static let keyID = "development-ca"
    /// The CA certificate's file name in the state directory.
    public static let certificateFileName = "ca.pem"
    /// How far notBefore lies before the issuing time, so a client whose clock
    /// runs behind still accepts a fresh certificate.
    public static let backdating = Nanoseconds.seconds(60 * 60)
    /// CA certificate lifetime: ten years of 365.25 days.
    public static let caValidity = Nanoseconds.seconds(3_652 * 86_400)
    /// Server certificate lifetime unless the caller sets one.
    public static let defaultLeafValidity = Nanoseconds.seconds(90 * 86_400)
    /// Longest server certificate lifetime accepted: one day below the 398 days that
    /// CA/Browser Forum Baseline Requirements §6.3.2 allowed public certificates until
    /// 2026-03-15 (200 days after). Clients may apply such caps to a local CA too.
    public static let maximumLeafValidity = Nanoseconds.seconds(397 * 86_400)
    /// RFC 5280 Appendix A: ub-common-name, the longest commonName in characters.
    static let maximumCommonNameLength = 64
    /// Random bytes in the CA's name, so CAs of two machines or state directories differ.
    static let nameIdentifierLength = 4

    /// The vault key that signs certificates.
    public let key: KeyHandle
    /// The CA certificate's path, for clients to trust.
    public let certificatePath: String
    /// Whether `loadOrCreate` made a new CA rather than loading the stored one.
    public let created: Bool
    let certificate: X509Certificate

    private init(key: KeyHandle, certificate: X509Certificate, certificatePath: String, created: Bool) {
        self.key = key
        self.certificate = certificate
        self.certificatePath = certificatePath
        self.created = created
    }

    /// The CA certificate as DER.
    public var certificateDER: [UInt8] { certificate.der }

    /// SHA-256 over the CA certificate's DER, as `openssl x509 -fingerprint -sha256` prints it.
    public var fingerprintSHA256: String {
        var digest = [UInt8](repeating: 0, count: HashAlgorithm.sha256.outputLength)
        var length: UInt32 = 0
        guard X509_digest(certificate.pointer, CryptoProvider.shared.digest(.sha256), &digest, &length) == 1 else {
            return ""
        }
        return digest.prefix(Int(length)).map { hexByte($0) }.joined(separator: ":")
    }

    /// Loads the CA stored in `stateDirectory` and `vault`, or creates one there.
    ///
    /// A stored CA is reused when its key is in the vault, `ca.pem` contains a
    /// certificate for that key, and the certificate has not expired at `now`.
    /// Otherwise this creates a new key and certificate and replaces both.
    ///
    /// - Parameters:
    ///   - stateDirectory: receives `ca.pem` (mode 0644); created with mode 0700 if missing.
    ///   - vault: stores the CA key; its directory storage writes it with mode 0600.
    ///     With `.memory` storage the key ends with the process, so every start
    ///     makes a new CA and replaces `ca.pem`.
    ///   - profile: the server's profile; `.production` is rejected.
    ///   - now: wall-clock time in seconds since the Unix epoch.
    /// - Throws: `DevelopmentCAError.productionProfile` under the production
    ///   profile, a storage or build error, or `KeyVaultError.wrongPurpose`
    ///   when the vault keeps another purpose's key under `keyID`.
    public static func loadOrCreate(stateDirectory: String, vault: KeyVault, profile: VaultProfile, now: Int64,
                                    provider: CryptoProvider = .shared) throws -> DevelopmentCA {
        guard profile == .development, vault.profile == .development else {
            throw DevelopmentCAError.productionProfile
        }
        try ensureDirectory(stateDirectory)
        let path = stateDirectory + "/" + certificateFileName

        let storedKey: KeyHandle?
        do {
            storedKey = try vault.handle(id: keyID, purpose: .developmentCA)
        } catch KeyVaultError.notFound {
            storedKey = nil
        }
        if let storedKey {
            switch loadCertificate(path: path, key: storedKey, now: now) {
            case .success(let certificate):
                let ca = DevelopmentCA(key: storedKey, certificate: certificate, certificatePath: path, created: false)
                log.info("loaded development CA", "path=\(path) sha256=\(ca.fingerprintSHA256)")
                return ca
            case .failure(let reason):
                log.warning("replacing development CA", "path=\(path) reason=\(reason)")
                try vault.destroy(id: keyID)
            }
        } else if fileExists(path) {
            log.warning("replacing development CA", "path=\(path) reason=key \(keyID) not found in the vault")
        }

        let key = try vault.generate(.ecdsaP256, purpose: .developmentCA, id: keyID)
        let certificate = try makeCACertificate(key: key, now: now, provider: provider)
        try writeAtomically(try certificate.pem(), to: path, mode: certificateMode)
        let ca = DevelopmentCA(key: key, certificate: certificate, certificatePath: path, created: true)
        log.info("created development CA", "path=\(path) sha256=\(ca.fingerprintSHA256)")
        return ca
    }

    /// The reason a stored CA certificate cannot be reused.
    private struct Unusable: Error, CustomStringConvertible {
        let description: String
    }

    private static func loadCertificate(path: String, key: KeyHandle, now: Int64) -> Result<X509Certificate, Unusable> {
        guard fileExists(path) else { return .failure(Unusable(description: "file is missing")) }
        let certificate: X509Certificate
        do {
            certificate = try X509Certificate(pem: try KeyVault.readFile(path))
        } catch {
            return .failure(Unusable(description: "cannot read the certificate (\(error))"))
        }
        let matches = X509_check_private_key(certificate.pointer, key.key.pointer) == 1
        ERR_clear_error()
        guard matches else { return .failure(Unusable(description: "certificate does not match key \(key.id)")) }
        guard certificate.isUnexpired(at: now) else { return .failure(Unusable(description: "certificate expired")) }
        return .success(certificate)
    }

    /// Makes a self-signed CA certificate that may sign end-entity certificates
    /// only (RFC 5280 §4.2.1.9 pathLenConstraint 0).
    private static func makeCACertificate(key: KeyHandle, now: Int64, provider: CryptoProvider) throws -> X509Certificate {
        let identifier = provider.randomBytes(nameIdentifierLength).map { hexByte($0) }.joined()
        let template = CertificateTemplate(
            subjectCommonName: "capnet development CA \(identifier)",
            notBefore: now - seconds(backdating),
            notAfter: now + seconds(caValidity),
            subjectPublicKey: key.publicKeyDER(),
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ])
        return try makeCertificate(template, issuer: nil, signer: key, provider: provider)
    }

    /// Issues a server certificate for `key` and returns it with the CA
    /// certificate, leaf first, as a TLS Certificate message sends them.
    ///
    /// - Parameters:
    ///   - dnsNames: LDH host names; the first becomes the subject commonName.
    ///   - ipAddresses: IPv4 or IPv6 literals.
    ///   - key: a `tls-server` key; only its public half goes into the certificate.
    ///   - now: wall-clock time in seconds since the Unix epoch.
    ///   - validity: time from `now` to notAfter, at most `maximumLeafValidity`.
    /// - Throws: `DevelopmentCAError` naming the invalid name, address or
    ///   validity, or `KeyVaultError.wrongPurpose` for a key of another purpose.
    public func issueServerCertificate(dnsNames: [String], ipAddresses: [String], key: KeyHandle, now: Int64,
                                       validity: Nanoseconds = DevelopmentCA.defaultLeafValidity,
                                       provider: CryptoProvider = .shared) throws -> CertificateChain {
        guard key.purpose == .tlsServer else {
            throw KeyVaultError.wrongPurpose(id: key.id, keyPurpose: key.purpose, requested: .tlsServer)
        }
        let validitySeconds = Self.seconds(validity)
        guard validitySeconds > 0, validity <= Self.maximumLeafValidity else {
            throw DevelopmentCAError.invalidValidity(seconds: validitySeconds)
        }
        let subjectAltName = try Self.subjectAltName(dnsNames: dnsNames, ipAddresses: ipAddresses)
        // subjectAltName carries every name (RFC 6125 §6.4.4), so a name too long
        // for commonName is left out of the subject only.
        let firstName = dnsNames.first ?? ipAddresses[0] // subjectAltName(...) threw when both are empty.
        let commonName = firstName.count <= Self.maximumCommonNameLength ? firstName : "capnet development server"

        let template = CertificateTemplate(
            subjectCommonName: commonName,
            notBefore: now - Self.seconds(Self.backdating),
            notAfter: now + validitySeconds,
            subjectPublicKey: key.publicKeyDER(),
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, "serverAuth"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
                (NID_subject_alt_name, subjectAltName),
            ])
        let leaf = try Self.makeCertificate(template, issuer: certificate, signer: self.key, provider: provider)
        Self.log.info("issued development server certificate",
                      "names=\((dnsNames + ipAddresses).joined(separator: ",")) days=\(validitySeconds / 86_400)")
        return CertificateChain(der: [leaf.der, certificate.der])
    }

    /// Issues a server certificate for the vault's `tls-server` key `keyID`,
    /// generating an ECDSA P-256 key under that id first if the vault has none.
    public func issueCertifiedKey(dnsNames: [String], ipAddresses: [String], vault: KeyVault,
                                  keyID: String = "development-server", now: Int64,
                                  validity: Nanoseconds = DevelopmentCA.defaultLeafValidity) throws -> CertifiedKey {
        let serverKey: KeyHandle
        do {
            serverKey = try vault.handle(id: keyID, purpose: .tlsServer)
        } catch KeyVaultError.notFound {
            serverKey = try vault.generate(.ecdsaP256, purpose: .tlsServer, id: keyID)
        }
        let chain = try issueServerCertificate(dnsNames: dnsNames, ipAddresses: ipAddresses, key: serverKey,
                                               now: now, validity: validity)
        return try CertifiedKey(chain: chain, key: serverKey)
    }

    private static func seconds(_ span: Nanoseconds) -> Int64 { span.value / 1_000_000_000 }
}

/// Two uppercase hex digits, the form openssl prints fingerprints in.
private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
}
