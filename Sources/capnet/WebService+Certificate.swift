import Acme
import Foundation
import TLSEngine
import WebUI

extension WebService {
    /// Loads the HTTPS certificate: the operator's `--cert` and `--key`, or
    /// (development profile only) one issued by the development CA in the
    /// state directory for the configured domains and the stack's address.
    static func loadCertificate(configuration: ServeConfiguration, stateDirectory: String) throws
        -> (CertifiedKey, CertificateStatus)
    {
        let profile: VaultProfile = configuration.profile == .production ? .production : .development
        if let certificatePath = configuration.certificatePath, let keyPath = configuration.privateKeyPath {
            return try loadOperatorCertificate(certificatePath: certificatePath, keyPath: keyPath, profile: profile)
        }
        guard configuration.profile == .development else {
            throw UsageError("the production profile needs a real certificate: give --cert FILE --key FILE "
                + "(the development CA is for local runs only)")
        }
        return try issueDevelopmentCertificate(configuration: configuration, stateDirectory: stateDirectory)
    }

    private static func loadOperatorCertificate(certificatePath: String, keyPath: String,
                                                profile: VaultProfile) throws -> (CertifiedKey, CertificateStatus) {
        let chainPEM: String
        let keyPEM: String
        do {
            chainPEM = try String(contentsOfFile: certificatePath, encoding: .utf8)
        } catch {
            throw UsageError("cannot read --cert \(certificatePath): \(error.localizedDescription)")
        }
        do {
            keyPEM = try String(contentsOfFile: keyPath, encoding: .utf8)
        } catch {
            throw UsageError("cannot read --key \(keyPath): \(error.localizedDescription)")
        }
        // The key file stays the source of truth, so the imported copy lives
        // in a memory vault and is never written elsewhere.
        let vault = try KeyVault(storage: .memory, profile: profile)
        let key = try vault.importPEM(keyPEM, purpose: .tlsServer, id: "tls-server")
        let chain: CertificateChain
        do {
            chain = try CertificateChain(pem: chainPEM)
        } catch {
            throw UsageError("invalid --cert \(certificatePath): \(error)")
        }
        let certified: CertifiedKey
        do {
            certified = try CertifiedKey(chain: chain, key: key)
        } catch {
            throw UsageError("--key \(keyPath) does not belong to --cert \(certificatePath): \(error)")
        }
        let info = try CertificateInfo(chainPEM: chainPEM)
        // NOTE: the subject alternative names of an operator's certificate are
        // not parsed yet, so the dashboard lists none for it.
        let status = CertificateStatus(subject: info.subject, issuer: info.issuer, subjectAlternativeNames: [],
                                       notAfter: info.notAfter, source: .file)
        return (certified, status)
    }
}
