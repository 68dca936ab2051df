import Foundation
import Testing
@testable import capnet_load

/// capnet-load run as a user runs it, against `openssl s_server` on loopback.
/// Serialized so the single-threaded servers are not starved on two cores.
@Suite(.serialized) struct OpenSSLServerLoadTests {
    /// Connections per run: enough to exercise reuse of sockets and slots.
    static let handshakeCount = 200
    /// Generous per-connection limit for a loaded CI machine.
    static let timeout = "20"

    let directory: TemporaryDirectory
    let certificate: TestCertificate

    init() throws {
        directory = try TemporaryDirectory()
        certificate = try TestCertificate(in: directory, name: "server")
    }

    func url(_ server: OpenSSLTestServer, host: String = "localhost") -> String {
        "https://\(host):\(server.port)/"
    }

    @Test(arguments: ["x25519", "P-256", "P-384"])
    func fullHandshakes(group: String) throws {
        let server = try OpenSSLTestServer(certificate: certificate)
        let run = try runLoad(["--count", "\(Self.handshakeCount)", "--timeout", Self.timeout,
                               "--group", group, "--cacert", certificate.certificatePath, url(server)])
        #expect(run.status == 0)
        #expect(run.summary.connectionsStarted == Self.handshakeCount)
        #expect(run.summary.handshakes == Self.handshakeCount)
        #expect(run.summary.sessionsReused == 0)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
        #expect(run.summary.handshakeLatencyMs?.count == Self.handshakeCount)
        #expect(run.summary.negotiated?.version == "TLSv1.3")
        #expect(run.summary.negotiated?.group == group)
    }

    @Test func sequentialLatencyCoversElapsedTime() throws {
        // One connection at a time spends most of the wall time in its
        // handshake, so the latencies must add up to most of the run. This
        // fails when the clock is read before OpenSSL processes the server's
        // flight, or when the worker idles after a connection that finished
        // inside the call that opened it.
        let server = try OpenSSLTestServer(certificate: certificate)
        let run = try runLoad(["--concurrency", "1", "--count", "100", "--timeout", Self.timeout,
                               "--insecure", url(server)])
        let latency = try #require(run.summary.handshakeLatencyMs)
        let handshakeSeconds = latency.mean * Double(latency.count) / 1_000
        #expect(handshakeSeconds >= 0.7 * run.summary.elapsedSeconds,
                "handshakes \(handshakeSeconds) s of \(run.summary.elapsedSeconds) s")
        #expect(handshakeSeconds <= run.summary.elapsedSeconds)
    }

    @Test func resumedHandshakesReuseSession() throws {
        let server = try OpenSSLTestServer(certificate: certificate)
        let run = try runLoad(["--mode", "resumed", "--count", "\(Self.handshakeCount)", "--timeout", Self.timeout,
                               "--cacert", certificate.certificatePath, url(server, host: "127.0.0.1")])
        #expect(run.status == 0)
        #expect(run.summary.handshakes == Self.handshakeCount)
        #expect(run.summary.primingHandshakes == 1)
        #expect(run.summary.sessionsReused == Self.handshakeCount)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
    }

    @Test func getReadsResponseUntilClose() throws {
        // s_server -www replies with HTTP/1.0 and no Content-Length, then closes.
        let server = try OpenSSLTestServer(certificate: certificate)
        let count = 50
        let run = try runLoad(["--mode", "get", "--count", "\(count)", "--timeout", Self.timeout,
                               "--cacert", certificate.certificatePath, url(server)])
        #expect(run.status == 0)
        #expect(run.summary.handshakes == count)
        #expect(run.summary.requests == count)
        #expect(run.summary.requestLatencyMs?.count == count)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
    }

    @Test func openLoopRate() throws {
        let server = try OpenSSLTestServer(certificate: certificate)
        let count = 40
        let run = try runLoad(["--rate", "400", "--count", "\(count)", "--timeout", Self.timeout,
                               "--insecure", url(server)])
        #expect(run.status == 0)
        #expect(run.summary.ratePerSecond == 400)
        #expect(run.summary.handshakes + run.summary.missedStarts == count)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
    }

    @Test func untrustedCertificateIsVerifyFailure() throws {
        let server = try OpenSSLTestServer(certificate: certificate)
        let other = try TestCertificate(in: directory, name: "other")
        let count = 10
        let run = try runLoad(["--count", "\(count)", "--timeout", Self.timeout,
                               "--cacert", other.certificatePath, url(server)])
        #expect(run.status == 1)
        #expect(run.summary.handshakes == 0)
        #expect(run.summary.errors.verifyFailed == count)
        #expect(run.summary.errors.total == count)
    }

    @Test func noCommonSuiteIsAlert() throws {
        // OpenSSL's server does not enable TLS_AES_128_CCM_SHA256 by default
        // and replies with a handshake_failure alert (RFC 8446 section 4.1.1).
        let server = try OpenSSLTestServer(certificate: certificate)
        let count = 5
        let run = try runLoad(["--count", "\(count)", "--timeout", Self.timeout, "--insecure",
                               "--suite", "TLS_AES_128_CCM_SHA256", url(server)])
        #expect(run.status == 1)
        #expect(run.summary.errors.alertReceived == count)
        #expect(run.summary.errors.details.first?.detail == "handshake failure")
    }
}

@Suite struct LoadErrorKindTests {
    @Test func closedPortIsConnectRefused() throws {
        let port = try LocalPort(listening: false)
        let count = 10
        let run = try runLoad(["--count", "\(count)", "--insecure", "https://127.0.0.1:\(port.port)/"])
        #expect(run.status == 1)
        #expect(run.summary.connectionsStarted == count)
        #expect(run.summary.errors.connectRefused == count)
        #expect(run.summary.errors.total == count)
    }

    @Test func refusedConnectsEndAtDuration() throws {
        // Connects that fail at once must not keep the run from ending.
        let port = try LocalPort(listening: false)
        let run = try runLoad(["--duration", "0.5", "--insecure", "https://127.0.0.1:\(port.port)/"])
        #expect(run.status == 1)
        #expect(run.summary.connectionsStarted > 0)
        #expect(run.summary.errors.connectRefused == run.summary.connectionsStarted)
        #expect(run.summary.elapsedSeconds < 5)
    }

    @Test func silentServerIsTimeout() throws {
        // The kernel completes the TCP handshake into the backlog, but nothing
        // ever replies to the ClientHello.
        let port = try LocalPort(listening: true)
        let count = 3
        let run = try runLoad(["--count", "\(count)", "--concurrency", "\(count)", "--timeout", "1",
                               "--insecure", "https://127.0.0.1:\(port.port)/"])
        #expect(run.status == 1)
        #expect(run.summary.errors.timeout == count)
        #expect(run.summary.errors.details.first?.detail.contains("TLS handshake") == true)
    }

    @Test func refusedTargetNamesAddressAndOverride() throws {
        // Rejected before any socket is opened.
        let result = try runProgram(loadToolPath(), ["--count", "1", "https://10.0.0.1:443/"])
        #expect(result.status == 2)
        #expect(result.error.contains("10.0.0.1"))
        #expect(result.error.contains("--allow-any-target"))
        #expect(result.output.isEmpty)
    }

    @Test func helpListsEveryOption() throws {
        let result = try runProgram(loadToolPath(), ["--help"])
        #expect(result.status == 0)
        for option in ["--mode", "--concurrency", "--rate", "--max-in-flight", "--threads", "--duration",
                       "--count", "--timeout", "--group", "--suite", "--alpn", "--sni", "--cacert",
                       "--insecure", "--allow-any-target", "--json"] {
            #expect(result.output.contains(option), "help lacks \(option)")
        }
    }
}

/// capnet-load against Debian's nginx with an ECDSA P-256 certificate.
@Suite(.serialized) struct NginxLoadTests {
    static let handshakeCount = 200
    static let timeout = "20"

    let directory: TemporaryDirectory
    let certificate: TestCertificate
    let server: NginxTestServer

    init() throws {
        directory = try TemporaryDirectory()
        certificate = try TestCertificate(in: directory, name: "nginx")
        server = try NginxTestServer(certificate: certificate, directory: directory)
    }

    var url: String { "https://localhost:\(server.port)/" }

    @Test func fullHandshakes() throws {
        let run = try runLoad(["--count", "\(Self.handshakeCount)", "--timeout", Self.timeout,
                               "--group", "P-256", "--cacert", certificate.certificatePath, url])
        #expect(run.status == 0)
        #expect(run.summary.handshakes == Self.handshakeCount)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
        #expect(run.summary.negotiated?.group == "P-256")
        #expect(run.summary.negotiated?.alpn == "http/1.1")
    }

    @Test func resumedHandshakesReuseSession() throws {
        let run = try runLoad(["--mode", "resumed", "--count", "\(Self.handshakeCount)", "--timeout", Self.timeout,
                               "--cacert", certificate.certificatePath, url])
        #expect(run.status == 0)
        #expect(run.summary.handshakes == Self.handshakeCount)
        #expect(run.summary.primingHandshakes == 1)
        #expect(run.summary.sessionsReused == Self.handshakeCount)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
    }

    @Test func twoThreadsShareCount() throws {
        // Each thread primes its own session, then the count is split 50/50.
        let run = try runLoad(["--mode", "resumed", "--threads", "2", "--concurrency", "4",
                               "--count", "\(Self.handshakeCount)", "--timeout", Self.timeout,
                               "--cacert", certificate.certificatePath, url])
        #expect(run.status == 0)
        #expect(run.summary.threads == 2)
        #expect(run.summary.connectionsStarted == Self.handshakeCount)
        #expect(run.summary.handshakes == Self.handshakeCount)
        #expect(run.summary.primingHandshakes == 2)
        #expect(run.summary.sessionsReused == Self.handshakeCount)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
    }

    @Test func getReadsContentLength() throws {
        // nginx sends Content-Length and keeps the connection open until the
        // client closes, so a complete run shows the length was honoured.
        let run = try runLoad(["--mode", "get-resumed", "--count", "\(Self.handshakeCount)", "--timeout", Self.timeout,
                               "--cacert", certificate.certificatePath, url])
        #expect(run.status == 0)
        #expect(run.summary.requests == Self.handshakeCount)
        #expect(run.summary.sessionsReused == Self.handshakeCount)
        #expect(run.summary.errors.total == 0, "\(run.summary.errors.details)")
    }
}
