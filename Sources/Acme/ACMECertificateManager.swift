import Foundation
import CapnetBase

/// Certificate state for the Web UI.
public struct ACMECertificateStatus: Sendable {
    public enum Phase: String, Sendable {
        /// Nothing issued yet and no attempt finished.
        case noCertificate
        /// A certificate is installed and not yet due for renewal.
        case valid
        /// The last attempt failed; `lastError` contains the reason.
        case failed
    }

    public var phase: Phase
    /// The installed certificate, if any (kept when a renewal fails).
    public var certificate: CertificateInfo?
    public var identifiers: [ACMEIdentifier]
    public var renewalTime: Date?
    public var renewalSource: ACMERenewalSource?
    /// When `run` should be called again.
    public var nextCheck: Date
    public var lastError: String?
    /// Path of the PEM chain in the state directory.
    public var chainPath: String?
    /// Whether the last `run` issued a new certificate.
    public var issuedInLastRun: Bool
}

/// Keeps one certificate valid: reuses the stored account and certificate
/// after a restart, checks renewal (ARI when offered, else two thirds of the
/// lifetime) and issues when due. The owner calls `run()` at
/// `status.nextCheck`; the manager never schedules itself.
public final class ACMECertificateManager {
    public let client: ACMEClient
    public let store: ACMEStateStore
    let certificateSigner: CertificateRequestSigner
    static let log = Logger(.acme)

    /// Maximum wait between renewal checks, so that ARI window changes (for
    /// example after a revocation) are seen within a day.
    public static let maxCheckInterval: TimeInterval = 24 * 3600
    /// Wait after a failed attempt before the next one.
    public static let failureRetryInterval: TimeInterval = 3600

    public private(set) var status: ACMECertificateStatus

    public init(client: ACMEClient, store: ACMEStateStore, certificateSigner: CertificateRequestSigner) {
        self.client = client
        self.store = store
        self.certificateSigner = certificateSigner
        let record = try? store.loadCertificate()
        status = ACMECertificateStatus(phase: record == nil ? .noCertificate : .valid, certificate: record?.info,
                                       identifiers: client.configuration.identifiers,
                                       renewalTime: record?.renewalTime, renewalSource: record?.renewalSource,
                                       nextCheck: client.clock.now(), lastError: nil,
                                       chainPath: record == nil ? nil : store.chainPath, issuedInLastRun: false)
    }

    /// Runs one check: account, renewal decision, issuance when due. Errors
    /// are recorded in the returned status, which schedules a retry.
    @discardableResult
    public func run() async -> ACMECertificateStatus {
        status.issuedInLastRun = false
        // Runs are a day apart at most, so each starts from a fresh directory.
        client.forgetDirectory()
        do {
            try await ensureAccount()
            do {
                try await checkCertificate()
            } catch ACMEError.problem(let problem, _) where problem.type == .accountDoesNotExist {
                // The CA no longer knows the stored account (for example after
                // a CA reset): register again once and retry.
                Self.log.warning("stored account unknown to the CA; registering again",
                                 "account=\(client.accountURL ?? "none")")
                try store.removeAccount()
                try await ensureAccount()
                try await checkCertificate()
            }
            status.lastError = nil
        } catch {
            let now = client.clock.now()
            Self.log.error("certificate check failed", "error=\(error)")
            status.phase = .failed
            status.lastError = "\(error)"
            status.nextCheck = now.addingTimeInterval(Self.failureRetryInterval)
        }
        return status
    }

    /// Reuses the stored account when it belongs to this directory and key;
    /// otherwise looks it up or creates it, and stores it.
    func ensureAccount() async throws {
        let configuration = client.configuration
        let thumbprint = try client.signer.publicJWK.thumbprint()
        let stored = try store.loadAccount()
        if let stored, stored.directoryURL == configuration.directoryURL, stored.keyThumbprint == thumbprint {
            try await client.ensureAccount(knownURL: stored.accountURL)
            return
        }
        let accountURL = try await client.ensureAccount(knownURL: nil)
        try store.saveAccount(ACMEAccountRecord(directoryURL: configuration.directoryURL, accountURL: accountURL,
                                                keyReference: client.signer.keyReference,
                                                keyThumbprint: thumbprint))
    }

    /// Decides whether the stored certificate still serves and issues if not.
    func checkCertificate() async throws {
        let configuration = client.configuration
        let directory = try await client.loadDirectory()
        let record = try store.loadCertificate()
        let matches = record.map {
            $0.directoryURL == configuration.directoryURL && Set($0.identifiers) == Set(configuration.identifiers)
        } ?? false

        if let record, matches {
            var updated = record
            var nextFetch: Date?
            if let identifier = record.renewalIdentifier, directory.renewalInfo != nil {
                do {
                    if let (info, retryAfter) = try await client.fetchRenewalInfo(certificateIdentifier: identifier),
                       let chosen = client.chooseRenewalTime(in: info.suggestedWindow) {
                        // RFC 9773 §4.2: keep a chosen time while the window is unchanged.
                        if record.renewalSource != .renewalInfo || !Self.window(info.suggestedWindow, contains: record.renewalTime) {
                            updated.renewalTime = chosen
                        }
                        updated.renewalSource = .renewalInfo
                        nextFetch = retryAfter.map { client.clock.now().addingTimeInterval($0.seconds) }
                    }
                } catch {
                    // RFC 9773 §4.3: without renewal information, keep the previous schedule.
                    Self.log.warning("renewal information unavailable", "error=\(error)")
                }
            }
            if updated != record { try store.saveCertificateRecord(updated) }

            let now = client.clock.now()
            if now < updated.renewalTime {
                var next = min(updated.renewalTime, now.addingTimeInterval(Self.maxCheckInterval))
                if let nextFetch { next = min(next, max(nextFetch, now)) }
                report(updated, nextCheck: next, issued: false)
                Self.log.info("certificate not due for renewal",
                              "serial=\(updated.info.serialHex) renewal=\(updated.renewalTime) source=\(updated.renewalSource.rawValue)")
                return
            }
            Self.log.notice("certificate due for renewal", "serial=\(updated.info.serialHex) source=\(updated.renewalSource.rawValue)")
        }

        try await issue(replacing: matches && directory.renewalInfo != nil ? record?.renewalIdentifier : nil)
    }

    /// Issues a certificate for the configured identifiers and stores it.
    func issue(replacing replaced: String?) async throws {
        let configuration = client.configuration
        let csr = try CertificateSigningRequest.build(identifiers: configuration.identifiers, signer: certificateSigner)
        let issued = try await client.issueCertificate(identifiers: configuration.identifiers, csrDER: csr,
                                                       replaces: replaced)
        let info = try CertificateInfo(chainPEM: issued.chainPEM)
        let record = ACMECertificateRecord(directoryURL: configuration.directoryURL,
                                           identifiers: configuration.identifiers,
                                           certificateURL: issued.certificateURL, info: info,
                                           renewalIdentifier: ACMERenewalPolicy.certificateIdentifier(info),
                                           renewalTime: ACMERenewalPolicy.lifetimeRenewalTime(notBefore: info.notBefore,
                                                                                              notAfter: info.notAfter),
                                           renewalSource: .lifetimeFraction)
        try store.saveCertificate(record, chainPEM: issued.chainPEM)
        Self.log.notice("certificate issued", "serial=\(info.serialHex) notAfter=\(info.notAfter)")

        // The new certificate's renewal information is read on the next run.
        let now = client.clock.now()
        report(record, nextCheck: min(record.renewalTime, now.addingTimeInterval(Self.maxCheckInterval)), issued: true)
    }

    private func report(_ record: ACMECertificateRecord, nextCheck: Date, issued: Bool) {
        status.phase = .valid
        status.certificate = record.info
        status.renewalTime = record.renewalTime
        status.renewalSource = record.renewalSource
        status.nextCheck = nextCheck
        status.chainPath = store.chainPath
        status.issuedInLastRun = issued
    }

    private static func window(_ window: ACMERenewalInfo.Window, contains date: Date) -> Bool {
        guard let start = ACMERenewalPolicy.parseTimestamp(window.start),
              let end = ACMERenewalPolicy.parseTimestamp(window.end) else { return false }
        return start <= date && date <= end
    }
}
