import Acme
import CapnetBase
import Foundation
import NetStack
import Synchronization
import TLSEngine
import WebUI

/// The owner of the HTTPS certificate that an ACME CA issues. It installs the
/// stored certificate at start and runs `ACMECertificateManager` in a
/// background task, whose HTTPS goes through the stack's own TCP and TLS
/// client. Each new chain is swapped into the TLS server's certificate
/// source: handshakes after the swap get it, and open connections keep theirs.
final class ACMECertificateService: @unchecked Sendable {
    /// The certificate source the HTTPS server reads on every ClientHello.
    /// Until the first ACME certificate is installed it contains the interim
    /// certificate, or nothing, and then handshakes fail with unrecognized_name.
    let certificates: CertificateSource
    let transport: StackHTTPSClient
    /// How often the background task checks for a renewal request while it
    /// waits for `nextCheck`.
    static let wakeInterval = Nanoseconds.seconds(1)

    private struct State {
        var status: CertificateStatus
        var renewalRequested = false
        var stopped = false
    }

    private let manager: ACMECertificateManager
    private let vault: KeyVault
    /// The start of every certificate key's vault id. Each issuance makes a new key.
    static let certificateKeyPrefix = "acme-tls-server"

    private let identifiers: [ACMEIdentifier]
    /// Whether a development CA certificate is served until the first issuance.
    private let interimServed: Bool
    private let state: Mutex<State>
    /// Whether an ACME certificate (not the interim one) is being served.
    private let hasACMECertificate = Atomic<Bool>(false)
    private var task: Task<Void, Never>?
    private let log = Logger(.acme)

    /// Prepares keys, the state store and the transport, and installs a
    /// stored certificate that still matches the configuration.
    /// - Parameter interim: served until the first ACME certificate arrives,
    ///   so the Web UI (and the ACME errors it shows) can be reached meanwhile.
    init(settings: ACMESettings, identifiers: [ACMEIdentifier], stateDirectory: String, profile: VaultProfile,
         interface: Interface, tcp: TCPLayer, challengeBoard: ACMEChallengeBoard, keyLog: (any TLSKeyLog)?,
         interim: CertifiedKey?, clock: TimeSource) throws {
        self.identifiers = identifiers
        certificates = CertificateSource(CertificateSource.Snapshot(defaultCertificate: interim))
        let vault = try KeyVault(storage: .directory(stateDirectory + "/keys"), profile: profile)
        self.vault = vault
        let accountKey = try VaultP256Signer.loadOrGenerate(in: vault, id: "acme-account", purpose: .acmeAccount)
        let store = try ACMEStateStore(directory: stateDirectory + "/acme")
        let certificateKey = try Self.currentCertificateKey(in: vault, chainPEM: try? store.loadChainPEM())

        var tls = TLSClientConfiguration(trustStore: try Self.trustStore(settings.caBundlePath))
        tls.keyLog = keyLog
        let trust = settings.caBundlePath.map { "--acme-ca-bundle \($0)" }
            ?? "the system bundle \(TrustStore.systemBundlePath) (or give --acme-ca-bundle)"
        transport = StackHTTPSClient(tcp: tcp, tlsConfiguration: tls, trustDescription: trust,
                                     resolver: try settings.dnsServer.map { try DNSHostResolver(interface: interface, server: $0) },
                                     userAgent: "capnet/\(capnetVersion)", now: { clock.now() })
        interface.addService(transport)

        var binding: ExternalAccountBinding?
        if let keyID = settings.externalAccountKeyID, let macKey = settings.externalAccountMACKey {
            binding = ExternalAccountBinding(keyID: keyID, macKeyBase64URL: macKey)
        }
        let configuration = ACMEConfiguration(directoryURL: settings.directoryURL, caBundlePath: settings.caBundlePath,
                                              contact: settings.contact,
                                              termsOfServiceAgreed: settings.termsOfServiceAgreed,
                                              externalAccountBinding: binding, identifiers: identifiers)
        let client = ACMEClient(configuration: configuration, signer: accountKey, transport: transport,
                                responder: ChallengeBoardResponder(board: challengeBoard), clock: SystemACMEClock())
        manager = ACMECertificateManager(client: client, store: store, certificateSigner: certificateKey)
        // A renewal also rotates the key (the old one is destroyed once the new chain serves).
        manager.certificateSignerProvider = {
            try VaultP256Signer(handle: vault.generate(.ecdsaP256, purpose: .tlsServer, id: Self.newCertificateKeyID(in: vault)))
        }
        interimServed = interim != nil
        state = Mutex(State(status: Self.certificateStatus(manager.status, issuing: manager.status.phase != .valid,
                                                           interimServed: interimServed)))

        if manager.status.phase == .valid, let record = try store.loadCertificate(),
           record.directoryURL == settings.directoryURL, Set(record.identifiers) == Set(identifiers) {
            do {
                try install(chainPath: store.chainPath)
                log.info("installed the stored ACME certificate", "serial=\(record.info.serialHex) "
                    + "not_after=\(record.info.notAfter) renewal=\(record.renewalTime)")
            } catch {
                log.warning("stored ACME certificate is invalid, so a new one will be ordered", "error=\(error)")
            }
        } else if interim != nil {
            log.notice("no ACME certificate yet: serving the development CA's certificate until one is issued",
                       "directory=\(settings.directoryURL) identifiers=\(identifiers.map(\.description))")
        } else {
            log.notice("no ACME certificate yet: HTTPS handshakes fail until one is issued",
                       "directory=\(settings.directoryURL) identifiers=\(identifiers.map(\.description))")
        }
    }

    /// The certificate's state for the Web UI.
    var status: CertificateStatus { state.withLock { $0.status } }

    /// Starts the background task that issues and renews.
    func start() {
        task = Task.detached { [self] in await runLoop() }
    }

    /// Asks for a new certificate now. Returns false when one is being
    /// issued already or the service stopped.
    func requestRenewal() -> Bool {
        state.withLock { state in
            guard !state.stopped, state.status.acme?.state != .issuing, !state.renewalRequested else { return false }
            state.renewalRequested = true
            return true
        }
    }

    /// Stops the task and fails requests in flight. Call on the loop thread
    /// after the loop stopped.
    func stop() {
        state.withLock { $0.stopped = true }
        task?.cancel()
        transport.close()
    }

    private func runLoop() async {
        var forced = false
        while !Task.isCancelled {
            let wasInstalled = hasACMECertificate.load(ordering: .relaxed)
            state.withLock { state in
                if forced || !wasInstalled || Date() >= (state.status.acme?.nextRenewal ?? .distantPast) {
                    state.status.acme?.state = .issuing
                }
            }
            let result = await manager.run(forceRenewal: forced)
            // A shutdown cancels the run, and its error is no failure.
            if Task.isCancelled { return }
            if result.issuedInLastRun || (!wasInstalled && result.phase == .valid), let path = result.chainPath {
                do {
                    try install(chainPath: path)
                    log.notice("installed the new ACME certificate", "serial=\(result.certificate?.serialHex ?? "?") "
                        + "not_after=\(result.certificate.map { "\($0.notAfter)" } ?? "?") "
                        + "key=\((manager.certificateSigner as? VaultP256Signer)?.handle.id ?? "?")")
                } catch {
                    log.error("cannot install the issued certificate", "error=\(error)")
                }
            }
            state.withLock { $0.status = Self.certificateStatus(result, issuing: false, interimServed: interimServed) }
            destroyUnusedCertificateKeys()
            log.info("next ACME certificate check scheduled",
                     "state=\(result.phase.rawValue) next_check=\(result.nextCheck)")
            forced = await waitForNextRun(until: result.nextCheck)
        }
    }

    /// Sleeps until `date` or a renewal request, and returns whether a renewal was requested.
    private func waitForNextRun(until date: Date) async -> Bool {
        while !Task.isCancelled {
            let requested = state.withLock { state -> Bool in
                defer { state.renewalRequested = false }
                return state.renewalRequested
            }
            if requested { return true }
            if Date() >= date { return false }
            try? await Task.sleep(nanoseconds: UInt64(Self.wakeInterval.value))
        }
        return false
    }

    /// Loads the chain, pairs it with the manager's current key and swaps it in.
    private func install(chainPath: String) throws {
        guard let key = manager.certificateSigner as? VaultP256Signer else {
            throw UsageError("the ACME certificate key is not a vault key")
        }
        let pem = try String(contentsOfFile: chainPath, encoding: .utf8)
        let certified = try CertifiedKey(chain: try CertificateChain(pem: pem), key: key.handle)
        certificates.replace(with: CertificateSource.Snapshot(defaultCertificate: certified))
        hasACMECertificate.store(true, ordering: .relaxed)
    }

    /// Returns the certificate key that the stored chain certifies, or the
    /// newest certificate key, or a new one.
    static func currentCertificateKey(in vault: KeyVault, chainPEM: String?) throws -> VaultP256Signer {
        let candidates = vault.list().filter {
            $0.id.hasPrefix(certificateKeyPrefix) && $0.purpose == .tlsServer && $0.algorithm == .ecdsaP256
        }
        let handles = try candidates.map { try vault.handle(id: $0.id, purpose: .tlsServer) }
        if let chainPEM, let chain = try? CertificateChain(pem: chainPEM),
           let matching = handles.first(where: chain.leafMatches) {
            return try VaultP256Signer(handle: matching)
        }
        if let newest = handles.last { return try VaultP256Signer(handle: newest) }
        return try VaultP256Signer(handle: vault.generate(.ecdsaP256, purpose: .tlsServer, id: newCertificateKeyID(in: vault)))
    }

    /// Returns a vault id that sorts after the existing certificate keys: the
    /// prefix and the time in milliseconds.
    static func newCertificateKeyID(in vault: KeyVault) -> String {
        var milliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        let existing = Set(vault.list().map(\.id))
        while existing.contains("\(certificateKeyPrefix)-\(milliseconds)") { milliseconds += 1 }
        return "\(certificateKeyPrefix)-\(milliseconds)"
    }

    /// Destroys certificate keys other than the one serving: the key a
    /// renewal replaced, and one made for an issuance that failed.
    private func destroyUnusedCertificateKeys() {
        guard let current = (manager.certificateSigner as? VaultP256Signer)?.handle.id else { return }
        for info in vault.list() where info.id.hasPrefix(Self.certificateKeyPrefix) && info.id != current {
            do {
                try vault.destroy(id: info.id)
                log.info("destroyed an unused certificate key", "key=\(info.id)")
            } catch {
                log.warning("cannot destroy an unused certificate key", "key=\(info.id) error=\(error)")
            }
        }
    }

    private static func trustStore(_ bundlePath: String?) throws -> TrustStore {
        guard let bundlePath else { return try TrustStore.system() }
        guard FileManager.default.isReadableFile(atPath: bundlePath),
              let data = FileManager.default.contents(atPath: bundlePath) else {
            throw UsageError("cannot read --acme-ca-bundle \(bundlePath): missing or unreadable file "
                + "(give a PEM file of the CA's root certificates)")
        }
        do {
            return try TrustStore(pem: String(decoding: data, as: UTF8.self))
        } catch {
            throw UsageError("invalid --acme-ca-bundle \(bundlePath): no readable PEM CERTIFICATE block "
                + "(give a PEM file of the CA's root certificates)")
        }
    }

    /// Converts the manager's status into the dashboard's certificate status.
    private static func certificateStatus(_ status: ACMECertificateStatus, issuing: Bool,
                                          interimServed: Bool) -> CertificateStatus {
        let state: WebUI.ACMEStatus.State = issuing ? .issuing : (status.phase == .failed ? .failed : .valid)
        let acme = WebUI.ACMEStatus(state: state, validUntil: status.certificate?.notAfter,
                              nextRenewal: status.certificate == nil ? status.nextCheck : status.renewalTime,
                              lastError: status.lastError)
        let names = status.identifiers.map { ($0.type == "ip" ? "IP:" : "DNS:") + $0.value }
        guard let certificate = status.certificate else {
            let subject = interimServed ? "(not issued yet: the development CA's certificate is served)"
                : "(not issued yet)"
            return CertificateStatus(subject: subject, issuer: "", subjectAlternativeNames: names,
                                     notAfter: Date(timeIntervalSince1970: 0), source: .acme, acme: acme)
        }
        return CertificateStatus(subject: certificate.subject, issuer: certificate.issuer,
                                 subjectAlternativeNames: names, notAfter: certificate.notAfter, source: .acme,
                                 serialNumber: certificate.serialHex, acme: acme)
    }
}

/// Serves http-01 key authorizations from the Web UI's challenge board: each
/// token gets its own publisher, dropped when the token is retired, so the
/// port-80 service returns a token's response only while its challenge is live.
final class ChallengeBoardResponder: ACMEChallengeResponder, @unchecked Sendable {
    private let board: ACMEChallengeBoard
    private let publishers = Mutex<[String: ACMEChallengePublisher]>([:])

    init(board: ACMEChallengeBoard) { self.board = board }

    func publish(token: String, keyAuthorization: String) async throws {
        let publisher = try board.mintPublisher(tokens: [token])
        try publisher.publish(token: token, keyAuthorization: keyAuthorization)
        publishers.withLock { $0[token] = publisher }
    }

    func retire(token: String) async {
        let publisher = publishers.withLock { $0.removeValue(forKey: token) }
        publisher?.retireAll()
    }
}
