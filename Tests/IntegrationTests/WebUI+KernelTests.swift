import Foundation
import Testing

/// The Web UI served by capnet on the userspace stack, fetched by curl from
/// the kernel side of the tap in a namespace each test creates.
@Suite(.enabled(if: NamespaceLab.isAvailable, Comment(rawValue: NamespaceLab.unavailableReason ?? "")),
       .timeLimit(.minutes(3)))
struct WebUIKernelTests {
    static let baseURL = "https://\(NamespaceLab.stackAddress)"

    /// A CA and a leaf certificate for 192.0.2.2 made with the openssl CLI.
    struct OperatorCertificate {
        let caPath: String
        let chainPath: String
        let keyPath: String

        init(directory: String) throws {
            caPath = directory + "/ca.pem"
            chainPath = directory + "/chain.pem"
            keyPath = directory + "/leaf.key"
            let caKey = directory + "/ca.key"
            let csr = directory + "/leaf.csr"
            let leaf = directory + "/leaf.pem"
            let extensions = directory + "/leaf.ext"
            try Shell.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", caKey, "-out", caPath, "-days", "2", "-subj", "/CN=capnet test CA"])
            try Shell.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", keyPath, "-out", csr, "-subj", "/CN=\(NamespaceLab.stackAddress)"])
            try "subjectAltName=IP:\(NamespaceLab.stackAddress)\n".write(toFile: extensions, atomically: true,
                                                                        encoding: .utf8)
            try Shell.run(["openssl", "x509", "-req", "-in", csr, "-CA", caPath, "-CAkey", caKey,
                           "-CAcreateserial", "-out", leaf, "-days", "1", "-extfile", extensions])
            let chain = try String(contentsOfFile: leaf, encoding: .utf8) + String(contentsOfFile: caPath, encoding: .utf8)
            try chain.write(toFile: chainPath, atomically: true, encoding: .utf8)
        }
    }

    struct Running {
        let lab: NamespaceLab
        let directory: TemporaryDirectory
        let certificate: OperatorCertificate
        let stateDirectory: String
        let capturePath: String
        let stack: ManagedProcess

        var adminToken: String {
            get throws {
                try String(contentsOfFile: stateDirectory + "/admin-token", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }

        /// Runs curl in the namespace; returns its stdout (body or -w output).
        func curl(_ arguments: [String]) throws -> String {
            try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15",
                          "--cacert", certificate.caPath] + arguments).output
        }
    }

    static func start(tag: String) throws -> Running {
        let lab = try NamespaceLab(tag: tag)
        do {
            let directory = try TemporaryDirectory()
            let certificate = try OperatorCertificate(directory: directory.path)
            let stateDirectory = directory.path + "/state"
            let capturePath = directory.path + "/web.pcapng"
            let stack = try lab.startCapnet([
                "--tap", NamespaceLab.tapName,
                "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
                "--state-dir", stateDirectory,
                "--cert", certificate.chainPath, "--key", certificate.keyPath,
                "--capture", capturePath, "--capture-tls-secrets",
            ])
            return Running(lab: lab, directory: directory, certificate: certificate,
                           stateDirectory: stateDirectory, capturePath: capturePath, stack: stack)
        } catch {
            lab.tearDown()
            throw error
        }
    }

    @Test func developmentCATrustedByCurl() throws {
        let lab = try NamespaceLab(tag: "devca")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let stateDirectory = directory.path + "/state"
        _ = try lab.startCapnet([
            "--tap", NamespaceLab.tapName,
            "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
            "--state-dir", stateDirectory, "--domain", "capnet.example",
        ])

        // Trusted through the CA certificate alone, by address and by name.
        let byAddress = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15",
                                      "--cacert", stateDirectory + "/ca.pem", "\(Self.baseURL)/healthz"])
        #expect(byAddress.output == "ok")
        let byName = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15",
                                   "--cacert", stateDirectory + "/ca.pem",
                                   "--resolve", "capnet.example:443:\(NamespaceLab.stackAddress)",
                                   "https://capnet.example/healthz"])
        #expect(byName.output == "ok")

        let keyMode = try FileManager.default.attributesOfItem(
            atPath: stateDirectory + "/keys/development-ca.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
    }

    @Test func productionRefusesDevelopmentCA() throws {
        let lab = try NamespaceLab(tag: "prod")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let result = try lab.exec([Shell.capnetBinary, "serve", "--tap", NamespaceLab.tapName,
                                   "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
                                   "--state-dir", directory.path + "/state", "--profile", "production"],
                                  allowFailure: true)
        #expect(result.status == 1)
        #expect(result.errorOutput.contains("production profile needs a real certificate"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/state/ca.pem"))
    }

    @Test func healthzOverTLS() throws {
        let web = try Self.start(tag: "healthz")
        defer { web.lab.tearDown() }

        let output = try web.curl(["--write-out", " %{http_code} %{ssl_verify_result}", "\(Self.baseURL)/healthz"])
        #expect(output == "ok 200 0")
    }

    @Test func dashboardNeedsAdminToken() throws {
        let web = try Self.start(tag: "auth")
        defer { web.lab.tearDown() }

        let anonymous = try web.curl(["--output", "/dev/null", "--write-out", "%{http_code}", "\(Self.baseURL)/"])
        #expect(anonymous == "401")

        let browser = try web.curl(["--output", "/dev/null", "--header", "Accept: text/html",
                                    "--write-out", "%{http_code} %{redirect_url}", "\(Self.baseURL)/"])
        #expect(browser == "303 \(Self.baseURL)/login")

        let wrongToken = try web.curl(["--output", "/dev/null", "--header", "Authorization: Bearer wrong",
                                       "--write-out", "%{http_code}", "\(Self.baseURL)/"])
        #expect(wrongToken == "401")

        let token = try web.adminToken
        let page = try web.curl(["--header", "Authorization: Bearer \(token)", "\(Self.baseURL)/"])
        #expect(page.contains("<svg"))
        #expect(page.contains(NamespaceLab.stackAddress))

        // The state directory keeps the token private to its owner.
        let mode = try FileManager.default.attributesOfItem(atPath: web.stateDirectory + "/admin-token")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(!web.stack.log.contains(token), "the admin token appeared in the log")
    }

    @Test func statusAPIShowsConnectionsAndSessions() throws {
        let web = try Self.start(tag: "api")
        defer { web.lab.tearDown() }

        let token = try web.adminToken
        let json = try web.curl(["--header", "Authorization: Bearer \(token)", "\(Self.baseURL)/api/status"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let snapshot = try #require(object?["snapshot"] as? [String: Any])
        let connections = try #require(snapshot["connections"] as? [[String: Any]])
        // The request itself arrives on an ESTABLISHED connection to port 443.
        #expect(connections.contains { ($0["local"] as? String) == "\(NamespaceLab.stackAddress):443"
            && ($0["state"] as? String) == "ESTABLISHED" })
        let sessions = try #require(snapshot["tlsSessions"] as? [[String: Any]])
        #expect(sessions.contains { ($0["version"] as? String) == "TLS 1.3" && ($0["alpn"] as? String) == "http/1.1" })
        let neighbors = try #require(snapshot["neighbors"] as? [[String: Any]])
        #expect(neighbors.contains { ($0["address"] as? String) == NamespaceLab.kernelAddress })

        let metrics = try web.curl(["--header", "Authorization: Bearer \(token)", "\(Self.baseURL)/metrics"])
        #expect(metrics.contains("capnet_frames_received_total"))
    }

    @Test func port80RedirectsAndHidesUnknownTokens() throws {
        let web = try Self.start(tag: "port80")
        defer { web.lab.tearDown() }

        let redirect = try web.curl(["--output", "/dev/null", "--write-out", "%{http_code} %{redirect_url}",
                                     "http://\(NamespaceLab.stackAddress)/anything?x=1"])
        #expect(redirect == "308 \(Self.baseURL)/anything?x=1")

        for path in ["/.well-known/acme-challenge/unknown-token", "/.well-known/acme-challenge/a/b",
                     "/.well-known/acme-challenge/%2e%2e"] {
            let status = try web.curl(["--output", "/dev/null", "--path-as-is", "--write-out", "%{http_code}",
                                       "http://\(NamespaceLab.stackAddress)\(path)"])
            #expect(status == "404", "\(path)")
        }
    }

    @Test func captureDecryptsWithoutKeyFile() throws {
        let web = try Self.start(tag: "decrypt")
        defer { web.lab.tearDown() }

        _ = try web.curl(["\(Self.baseURL)/healthz"])
        let status = web.stack.stop()
        #expect(status == 0, "capnet exited with \(status): \(web.stack.log)")

        // No -o tls.keylog_file: the secrets come from the capture itself.
        let http = try Shell.run(["tshark", "-r", web.capturePath, "-Y", "http",
                                  "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri",
                                  "-e", "http.response.code"])
        let lines = http.output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(lines.contains { $0.count >= 2 && $0[0] == "GET" && $0[1] == "/healthz" })
        #expect(lines.contains { $0.count >= 3 && $0[2] == "200" })
    }
}
