import Acme
import CapnetBase
import Foundation
import NIC
import NetStack
import TLSEngine
import WebUI

/// The Web UI on the userspace stack: the status application over TLS on the
/// HTTPS port, and the port-80 service that answers ACME http-01 tokens and
/// redirects everything else to HTTPS.
final class WebService {
    let https: HTTPServer
    let http: HTTPServer
    let application: WebApplication
    let challengeBoard = ACMEChallengeBoard()
    /// Issues and renews the certificate when `--acme` is given.
    let acme: ACMECertificateService?
    private let log = Logger(.ui)
    /// The state directory's subdirectory for Web UI captures.
    static let capturesDirectoryName = "captures"

    /// Sets up keys, the certificate, the admin token and both listeners.
    /// Throws an error that names what is wrong and the option to fix it.
    init(configuration: ServeConfiguration, stateDirectory: String, interface: Interface, tcp: TCPLayer,
         keyLog: (any TLSKeyLog)?, recorder: RecordingDevice?, clock: TimeSource) throws {
        try Self.prepareStateDirectory(stateDirectory)
        let captures = try recorder.map {
            try CaptureManager(directory: stateDirectory + "/" + Self.capturesDirectoryName, recorder: $0)
        }

        let certificates: CertificateSource
        let certificateStatus: () -> CertificateStatus
        if let settings = configuration.acme {
            // The development profile serves the development CA's certificate
            // until the first ACME certificate arrives.
            let interim = configuration.profile == .development
                ? try Self.issueDevelopmentCertificate(configuration: configuration, stateDirectory: stateDirectory).0
                : nil
            let service = try ACMECertificateService(
                settings: settings, identifiers: Self.acmeIdentifiers(configuration), stateDirectory: stateDirectory,
                profile: configuration.profile == .production ? .production : .development, interface: interface,
                tcp: tcp, challengeBoard: challengeBoard, keyLog: keyLog, interim: interim, clock: clock)
            acme = service
            certificates = service.certificates
            certificateStatus = { service.status }
        } else {
            let (certified, status) = try Self.loadCertificate(configuration: configuration,
                                                               stateDirectory: stateDirectory)
            acme = nil
            certificates = CertificateSource(certified)
            certificateStatus = { status }
        }

        var tls = TLSServerConfiguration(certificates: certificates)
        tls.applicationProtocols = ["http/1.1"]
        tls.sessionTickets = SessionTicketKeys(clock: clock)
        tls.keyLog = keyLog

        // AdminTokenStore logs where a newly created token was written.
        let token = try AdminTokenStore.loadOrCreate(stateDirectory: stateDirectory)

        let startedAt = Date()
        let addresses = [configuration.address.description]
        var httpsServer: HTTPServer?
        application = WebApplication(token: token.token, clock: clock, status: { [weak interface] in
            guard let interface else {
                return StatusSnapshot(generatedAt: Date(), service: ServiceInfo(
                    version: capnetVersion, startedAt: startedAt, uptimeSeconds: 0, addresses: addresses))
            }
            let service = ServiceInfo(version: capnetVersion, startedAt: startedAt,
                                      uptimeSeconds: Date().timeIntervalSince(startedAt), addresses: addresses)
            var snapshot = StatusSnapshot.collect(from: [interface], service: service, generatedAt: Date())
            snapshot.connections = tcp.connectionInfos().map(ConnectionStatus.init(info:))
            snapshot.tlsSessions = httpsServer?.establishedSessions.map(TLSSessionStatus.init(session:)) ?? []
            snapshot.certificates = [certificateStatus()]
            return snapshot
        }, captures: captures, renewCertificate: acme.map { service in { service.requestRenewal() } })

        var connectionConfiguration = HTTPConnection.Configuration()
        connectionConfiguration.serverName = "capnet/\(capnetVersion)"
        application.install(on: &connectionConfiguration)
        let application = application
        https = HTTPServer(listener: try Self.listen(tcp, port: configuration.httpsPort, option: "https-port"),
                           tls: tls, connectionConfiguration: connectionConfiguration,
                           handler: { application.handle($0) })
        httpsServer = https

        let port80 = Port80Service(challenges: challengeBoard.reader, httpsPort: configuration.httpsPort)
        http = HTTPServer(listener: try Self.listen(tcp, port: configuration.httpPort, option: "http-port"),
                          tls: nil,
                          connectionConfiguration: Port80Service.connectionConfiguration(dateClock: nil),
                          handler: { port80.respond(to: $0) })

        interface.addService(https)
        interface.addService(http)
        interface.addService(HistorySampler(application: application, interface: interface, tcp: tcp,
                                            https: https))
        let shown = certificateStatus()
        log.info("Web UI listening", "https_port=\(configuration.httpsPort) http_port=\(configuration.httpPort) "
            + "certificate=\(shown.source.rawValue) subject=\(shown.subject)")
        acme?.start()
    }

    func close() {
        acme?.stop()
        https.close()
        http.close()
    }

    /// Returns the identifiers the ACME certificate covers: every `--domain`,
    /// or else the stack's own address (RFC 8738).
    static func acmeIdentifiers(_ configuration: ServeConfiguration) -> [ACMEIdentifier] {
        guard !configuration.domains.isEmpty else { return [.ip(configuration.address.address.description)] }
        return configuration.domains.map { .dns($0.lowercased()) }
    }

    private static func listen(_ tcp: TCPLayer, port: UInt16, option: String) throws -> TCPListener {
        do {
            return try tcp.listen(port: port)
        } catch {
            throw UsageError("cannot listen on TCP port \(port): \(error) (choose another --\(option))")
        }
    }

    /// Creates the state directory with mode 0700, or checks an existing one.
    static func prepareStateDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw UsageError("--state-dir \(path) is a file, not a directory; give a directory path")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw UsageError("cannot create --state-dir \(path): \(error.localizedDescription)")
        }
    }
}

/// Feeds the dashboard's charts once a second.
final class HistorySampler: InterfaceService {
    static let interval = Nanoseconds.seconds(1)

    private let application: WebApplication
    private unowned let interface: Interface
    private let tcp: TCPLayer
    private let https: HTTPServer
    private var nextSample = Instant.zero

    init(application: WebApplication, interface: Interface, tcp: TCPLayer, https: HTTPServer) {
        self.application = application
        self.interface = interface
        self.tcp = tcp
        self.https = https
    }

    func poll(now: Instant) {
        guard now >= nextSample else { return }
        nextSample = now + Self.interval
        let totals = StatusHistory.Totals(interfaces: [interface], handshakes: https.counters.handshakesCompleted,
                                          connections: tcp.connectionInfos().count)
        application.recordHistory(totals, at: now)
    }

    var nextDeadline: Instant? { nextSample }
}

extension ConnectionStatus {
    init(info: TCPConnectionInfo) {
        self.init(local: info.local.description, remote: info.remote.description,
                  state: TCPStateName(rawValue: info.state.description) ?? .closed,
                  smoothedRTTMilliseconds: info.smoothedRTT?.milliseconds,
                  congestionWindowBytes: info.congestionWindow,
                  bytesReceived: info.bytesReceived, bytesSent: info.bytesSent)
    }
}

extension TLSSessionStatus {
    init(session: HTTPServer.SessionInfo) {
        let parameters = session.parameters
        self.init(remote: session.remote.description, version: "TLS 1.3",
                  cipherSuite: parameters.cipherSuite.description,
                  group: parameters.group.map { "\($0)" } ?? "none",
                  serverName: parameters.serverName, alpn: parameters.applicationProtocol,
                  resumed: parameters.resumed)
    }
}
