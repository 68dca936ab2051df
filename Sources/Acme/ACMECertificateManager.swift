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
    /// The key of the installed certificate, and of the CSR when no
    /// provider is set.
    public private(set) var certificateSigner: CertificateRequestSigner
    /// Makes a fresh key for each issuance, so a renewal also rotates the
    /// key; nil reuses `certificateSigner`. After a successful issuance the
    /// new key becomes `certificateSigner`.
    public var certificateSignerProvider: (() throws -> CertificateRequestSigner)?
    static let log = Logger(.acme)

    /// Maximum wait between renewal checks, so that ARI window changes (for
    /// example after a revocation) are seen within a day.
    public static let maxCheckInterval: TimeInterval = 24 * 3600
    /// Wait after the first failed attempt; it doubles with each further
    /// failure in a row, up to `maxFailureRetryInterval`.
    public static let failureRetryInterval: TimeInterval = 60
    public static let maxFailureRetryInterval: TimeInterval = 3600
    /// Failed runs since the last successful one.
    public private(set) var consecutiveFailures = 0

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
    ///
    /// With `forceRenewal`, a stored certificate that is not yet due is
    /// replaced anyway (an operator's "renew now").
    @discardableResult
    public func run(forceRenewal: Bool = false) async -> ACMECertificateStatus {
        status.issuedInLastRun = false
        // Runs are a day apart at most, so each starts from a fresh directory.
        client.forgetDirectory()
        do {
            try await ensureAccount()
            do {
                try await checkCertificate(forceRenewal: forceRenewal)
            } catch ACMEError.problem(let problem, _) where problem.type == .accountDoesNotExist {
                // The CA no longer knows the stored account (for example after
                // a CA reset): register again once and retry.
                Self.log.warning("stored account unknown to the CA; registering again",
                                 "account=\(client.accountURL ?? "none")")
                try store.removeAccount()
                try await ensureAccount()
                try await checkCertificate(forceRenewal: forceRenewal)
            }
            status.lastError = nil
            consecutiveFailures = 0
        } catch is CancellationError {
            // The owner is shutting down: not a failure of the CA or the network.
            Self.log.info("certificate check stopped by shutdown")
        } catch {
            let now = client.clock.now()
            consecutiveFailures += 1
            let delay = Self.failureRetryDelay(afterFailures: consecutiveFailures)
            Self.log.error("certificate check failed", "error=\(error) failures=\(consecutiveFailures) retry_in=\(Int(delay))s")
            status.phase = .failed
            status.lastError = "\(error)"
            status.nextCheck = now.addingTimeInterval(delay)
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
    func checkCertificate(forceRenewal: Bool) async throws {
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
            if now < updated.renewalTime && !forceRenewal {
                var next = min(updated.renewalTime, now.addingTimeInterval(Self.maxCheckInterval))
                if let nextFetch { next = min(next, max(nextFetch, now)) }
                report(updated, nextCheck: next, issued: false)
                Self.log.info("certificate not due for renewal",
                              "serial=\(updated.info.serialHex) renewal=\(updated.renewalTime) source=\(updated.renewalSource.rawValue)")
                return
            }
            Self.log.notice(forceRenewal ? "certificate renewal requested" : "certificate due for renewal",
                            "serial=\(updated.info.serialHex) source=\(updated.renewalSource.rawValue)")
        }

        try await issue(replacing: matches && directory.renewalInfo != nil ? record?.renewalIdentifier : nil)
    }

    /// Issues a certificate for the configured identifiers and stores it.
    func issue(replacing replaced: String?) async throws {
        let configuration = client.configuration
        let signer = try certificateSignerProvider?() ?? certificateSigner
        let csr = try CertificateSigningRequest.build(identifiers: configuration.identifiers, signer: signer)
        let issued = try await client.issueCertificate(identifiers: configuration.identifiers, csrDER: csr,
                                                       replaces: replaced)
        try ACMEChainVerifier.verify(chainPEM: issued.chainPEM, identifiers: configuration.identifiers,
                                     subjectPublicKeyInfo: signer.subjectPublicKeyInfo,
                                     at: client.clock.now())
        let info = try CertificateInfo(chainPEM: issued.chainPEM)
        let record = ACMECertificateRecord(directoryURL: configuration.directoryURL,
                                           identifiers: configuration.identifiers,
                                           certificateURL: issued.certificateURL, info: info,
                                           renewalIdentifier: ACMERenewalPolicy.certificateIdentifier(info),
                                           renewalTime: ACMERenewalPolicy.lifetimeRenewalTime(notBefore: info.notBefore,
                                                                                              notAfter: info.notAfter),
                                           renewalSource: .lifetimeFraction)
        try store.saveCertificate(record, chainPEM: issued.chainPEM)
        certificateSigner = signer
        Self.log.notice("certificate issued", "serial=\(info.serialHex) not_after=\(info.notAfter)")

        // The new certificate's renewal information is read on the next run.
        let now = client.clock.now()
        report(record, nextCheck: min(record.renewalTime, now.addingTimeInterval(Self.maxCheckInterval)), issued: true)
    }

    /// Returns the wait before the next run after `failures` failed runs in
    /// a row: 1, 2, 4 ... minutes, at most an hour.
    public static func failureRetryDelay(afterFailures failures: Int) -> TimeInterval {
        let doublings = min(max(failures - 1, 0), 16)
        return min(maxFailureRetryInterval, failureRetryInterval * Double(1 << doublings))
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
