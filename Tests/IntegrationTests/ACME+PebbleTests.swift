import Foundation
import Testing

/// `capnet serve --acme` against Pebble, Let's Encrypt's test CA, inside a
/// namespace each test creates: Pebble listens on the kernel side of the tap
/// (192.0.2.1) and validates http-01 by fetching from the stack (192.0.2.2)
/// on port 80. The stack reaches Pebble through its own TCP and TLS client.
@Suite(.enabled(if: PebbleAvailability.reason == nil, Comment(rawValue: PebbleAvailability.reason ?? "")),
       .timeLimit(.minutes(10)))
struct ACMEPebbleTests {
    /// Upper bound on one issuance. Pebble responds at once, but a loaded
    /// machine runs the test build slowly.
    static let issuanceTimeout: TimeInterval = 240
    static let issuedMarker = "installed the new ACME certificate"
    static let stackURL = "https://\(NamespaceLab.stackAddress)"

    /// Pebble in the namespace, with its own TLS certificate for 192.0.2.1.
    struct Pebble {
        static let listen = "\(NamespaceLab.kernelAddress):14000"
        static let management = "\(NamespaceLab.kernelAddress):15000"
        static var directoryURL: String { "https://\(listen)/dir" }
        /// The name the stack resolves through challtestsrv in the DNS test.
        static let hostName = "ca.capnet.test"

        let lab: NamespaceLab
        let tlsCertificate: String
        let process: ManagedProcess

        /// External Account Binding key, as a CA hands it out (an arbitrary test value).
        static let bindingKeyID = "capnet-test-kid"
        static let bindingMACKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

        /// Starts Pebble; with `requireBinding`, accounts need the External
        /// Account Binding key above.
        init(lab: NamespaceLab, directory: String, environment: [String: String], dnsServer: String? = nil,
             requireBinding: Bool = false) throws {
            self.lab = lab
            tlsCertificate = directory + "/pebble-tls.pem"
            let tlsKey = directory + "/pebble-tls.key"
            try Shell.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-keyout", tlsKey, "-out", tlsCertificate, "-subj", "/CN=pebble", "-days", "2",
                           "-addext", "subjectAltName=IP:\(NamespaceLab.kernelAddress),DNS:\(Self.hostName)"])
            let config: [String: Any] = ["pebble": [
                "listenAddress": Self.listen,
                "managementListenAddress": Self.management,
                "certificate": tlsCertificate,
                "privateKey": tlsKey,
                "httpPort": 80,
                // Unused: only http-01 is validated, and nothing listens on this port.
                "tlsPort": 5001,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": requireBinding,
                "externalAccountMACKeys": requireBinding ? [Self.bindingKeyID: Self.bindingMACKey] : [:],
            ] as [String: Any]]
            let configPath = directory + "/pebble.json"
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
            var command = ["pebble", "-config", configPath]
            if let dnsServer { command += ["-dnsserver", dnsServer] }
            process = try lab.startProcess(command, environment: ["PEBBLE_VA_NOSLEEP": "1"].merging(environment) { $1 },
                                           readyMarker: "ACME directory available at")
        }

        /// Fetches a management resource such as "/roots/0" into `path`.
        func download(_ resource: String, to path: String) throws {
            try lab.exec(["curl", "--silent", "--show-error", "--fail", "--max-time", "15",
                          "--cacert", tlsCertificate, "--output", path, "https://\(Self.management)\(resource)"])
        }
    }

    static func startCapnet(_ lab: NamespaceLab, stateDirectory: String, pebble: Pebble,
                            directoryURL: String = Pebble.directoryURL, extra: [String] = []) throws -> ManagedProcess {
        try lab.startCapnet([
            "--tap", NamespaceLab.tapName,
            "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
            "--state-dir", stateDirectory,
            "--acme-directory", directoryURL,
            "--acme-ca-bundle", pebble.tlsCertificate,
            "--acme-agree-tos", "--acme-email", "ops@example.org",
        ] + extra)
    }

    /// Returns the issuer and serial of the certificate the stack presents,
    /// read by openssl s_client and openssl x509.
    static func servedCertificate(_ lab: NamespaceLab, serverName: String? = nil)
        throws -> (issuer: String, serial: String, publicKey: String)
    {
        let name = serverName.map { " -servername \($0)" } ?? ""
        let output = try lab.exec(["bash", "-c", "openssl s_client -connect \(NamespaceLab.stackAddress):443\(name) "
            + "</dev/null 2>/dev/null | openssl x509 -noout -issuer -serial -pubkey"]).output
        let lines = output.split(separator: "\n").map(String.init)
        let issuer = lines.first { $0.hasPrefix("issuer=") }.map { String($0.dropFirst("issuer=".count)) } ?? ""
        // Python prints the serial without leading zeros, and so does this.
        let serial = lines.first { $0.hasPrefix("serial=") }.map { String($0.dropFirst("serial=".count)) } ?? ""
        let publicKey = lines.drop { !$0.contains("BEGIN PUBLIC KEY") }.joined(separator: "\n")
        return (issuer, String(serial.drop { $0 == "0" }), publicKey)
    }

    static func subject(ofCertificate path: String) throws -> String {
        let line = try Shell.run(["openssl", "x509", "-in", path, "-noout", "-subject"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return String(line.dropFirst("subject=".count))
    }

    /// A Python client that opens one TLS connection, prints the peer's
    /// serial, and sends GET /healthz on it every 2 s until `flag` exists
    /// (at most 150 times), then once more, and prints the last status.
    static let longConnectionScript = """
        import os, socket, ssl, sys, time
        root, flag = sys.argv[1], sys.argv[2]
        context = ssl.create_default_context(cafile=root)
        with socket.create_connection(("192.0.2.2", 443), timeout=20) as raw:
            with context.wrap_socket(raw, server_hostname="192.0.2.2") as tls:
                serial = format(int(tls.getpeercert()["serialNumber"], 16), "X")
                print("SERIAL", serial, flush=True)
                def get():
                    tls.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: 192.0.2.2\\r\\n\\r\\n")
                    data = b""
                    while not data.endswith(b"ok"):
                        chunk = tls.recv(4096)
                        if not chunk:
                            raise SystemExit("connection closed")
                        data += chunk
                    return data.split(b" ")[1].decode()
                status = get()
                for _ in range(150):
                    if os.path.exists(flag):
                        break
                    time.sleep(2)
                    status = get()
                print("AFTER", get(), flush=True)
        print("DONE", flush=True)
        """

    @Test func issueRenewAndRestart() throws {
        let lab = try NamespaceLab(tag: "acme")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let pebble = try Pebble(lab: lab, directory: directory.path, environment: ["PEBBLE_WFE_NONCEREJECT": "0"])
        let stateDirectory = directory.path + "/state"

        // 1. No certificate at start, then one issued through the stack.
        let capture = directory.path + "/acme.pcapng"
        var stack = try Self.startCapnet(lab, stateDirectory: stateDirectory, pebble: pebble,
                                         extra: ["--capture", capture, "--capture-tls-secrets"])
        #expect(stack.log.contains("no ACME certificate yet"))
        try stack.waitForOutput(containing: Self.issuedMarker, timeout: Self.issuanceTimeout)

        let root = directory.path + "/pebble-root.pem"
        let intermediate = directory.path + "/pebble-intermediate.pem"
        try pebble.download("/roots/0", to: root)
        try pebble.download("/intermediates/0", to: intermediate)
        let health = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15", "--cacert", root,
                                   "\(Self.stackURL)/healthz"]).output
        #expect(health == "ok")
        let first = try Self.servedCertificate(lab)
        #expect(first.issuer == (try Self.subject(ofCertificate: intermediate)))
        #expect(!first.serial.isEmpty)

        // 2. A connection opened before the renewal keeps working after it.
        let flag = directory.path + "/renewed"
        let scriptPath = directory.path + "/long-connection.py"
        try Self.longConnectionScript.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let longConnection = try lab.startProcess(["python3", scriptPath, root, flag], readyMarker: "SERIAL")
        #expect(longConnection.log.contains("SERIAL \(first.serial)"))

        let token = try String(contentsOfFile: stateDirectory + "/admin-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let renewal = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15", "--cacert", root,
                                    "--request", "POST", "--header", "Authorization: Bearer \(token)",
                                    "--write-out", "%{http_code}", "--output", "/dev/null",
                                    "\(Self.stackURL)/api/certificates/renew"]).output
        #expect(renewal == "202")
        try stack.waitForOutput(containing: Self.issuedMarker, occurrences: 2, timeout: Self.issuanceTimeout)
        let second = try Self.servedCertificate(lab)
        #expect(second.serial != first.serial)
        #expect(second.issuer == first.issuer)
        // The renewal also rotated the key, and the replaced key is gone from the vault.
        #expect(!first.publicKey.isEmpty)
        #expect(second.publicKey != first.publicKey)
        let keyFiles = try FileManager.default.contentsOfDirectory(atPath: stateDirectory + "/keys")
            .filter { $0.hasPrefix("acme-tls-server") }
        #expect(keyFiles.count == 1, "\(keyFiles)")

        try Data().write(to: URL(fileURLWithPath: flag))
        try longConnection.waitForOutput(containing: "DONE", timeout: 30)
        #expect(longConnection.log.contains("AFTER 200"), "\(longConnection.log)")

        // The Web UI reports the certificate's state.
        let status = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15", "--cacert", root,
                                   "--header", "Authorization: Bearer \(token)", "\(Self.stackURL)/api/status"]).output
        #expect(status.contains("\"source\":\"acme\""), "\(status)")
        #expect(status.contains("\"state\":\"valid\""), "\(status)")

        // 3. A restart reuses the stored account and certificate: no new order.
        #expect(stack.stop() == 0)
        // The capture decrypts in one pass with its embedded secrets, the
        // stack's requests to the CA included.
        let requests = try Shell.run(["tshark", "-r", capture, "-d", "tcp.port==14000,tls", "-d", "tls.port==14000,http",
                                      "-Y", "http.request", "-T", "fields", "-e", "ip.dst", "-e", "http.request.method",
                                      "-e", "http.request.uri"]).output
        #expect(requests.contains("\(NamespaceLab.kernelAddress)\tGET\t/dir"), "\(requests)")
        #expect(requests.contains("\(NamespaceLab.kernelAddress)\tPOST\t/finalize-order/"), "\(requests)")
        #expect(requests.contains("\(NamespaceLab.stackAddress)\tGET\t/.well-known/acme-challenge/"), "\(requests)")
        let ordersBefore = stack.log.components(separatedBy: "order created").count - 1
        #expect(ordersBefore == 2)
        stack = try Self.startCapnet(lab, stateDirectory: stateDirectory, pebble: pebble)
        #expect(stack.log.contains("installed the stored ACME certificate"))
        try stack.waitForOutput(containing: "certificate not due for renewal", timeout: Self.issuanceTimeout)
        #expect(!stack.log.contains("order created"))
        #expect(!stack.log.contains("ACME account ready"))
        let restarted = try Self.servedCertificate(lab)
        #expect(restarted.serial == second.serial)
        #expect(restarted.publicKey == second.publicKey)
    }

    /// Names resolved by the stack itself, half of all nonces rejected, an
    /// External Account Binding required, and the production profile.
    @Test func dnsNamesWithNonceRejection() throws {
        let lab = try NamespaceLab(tag: "acmedns")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        // Pebble resolves the names through challtestsrv, which returns
        // the stack's address for every A query.
        let dns = "\(NamespaceLab.kernelAddress):8053"
        _ = try lab.startProcess(["pebble-challtestsrv", "-dns01", dns, "-http01", "", "-https01", "",
                                  "-tlsalpn01", "", "-management", "\(NamespaceLab.kernelAddress):8055",
                                  "-defaultIPv4", NamespaceLab.stackAddress, "-defaultIPv6", ""],
                                 readyMarker: "Starting management server")
        let pebble = try Pebble(lab: lab, directory: directory.path,
                                environment: ["PEBBLE_WFE_NONCEREJECT": "50"], dnsServer: dns, requireBinding: true)

        // The stack finds the CA by name, through its own DNS resolver.
        try lab.exec(["curl", "--silent", "--show-error", "--fail", "--max-time", "15",
                      "--data", "{\"host\":\"\(Pebble.hostName).\",\"addresses\":[\"\(NamespaceLab.kernelAddress)\"]}",
                      "http://\(NamespaceLab.kernelAddress):8055/add-a"])
        let stack = try Self.startCapnet(lab, stateDirectory: directory.path + "/state", pebble: pebble,
                                         directoryURL: "https://\(Pebble.hostName):14000/dir",
                                         extra: ["--domain", "capnet.test", "--domain", "www.capnet.test",
                                                 "--dns-server", dns, "--profile", "production",
                                                 "--acme-eab-kid", Pebble.bindingKeyID,
                                                 "--acme-eab-hmac-key", Pebble.bindingMACKey,
                                                 "--log-level", "debug"])
        // The production profile serves nothing until the ACME certificate arrives.
        #expect(stack.log.contains("HTTPS handshakes fail until one is issued"))
        try stack.waitForOutput(containing: Self.issuedMarker, timeout: Self.issuanceTimeout)
        // Half of Pebble's nonces were rejected and retried with the fresh one.
        #expect(stack.log.contains("retrying after badNonce"))

        let root = directory.path + "/pebble-root.pem"
        try pebble.download("/roots/0", to: root)
        for name in ["capnet.test", "www.capnet.test"] {
            let health = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15", "--cacert", root,
                                       "--resolve", "\(name):443:\(NamespaceLab.stackAddress)",
                                       "https://\(name)/healthz"]).output
            #expect(health == "ok", "\(name)")
        }
    }
}

/// Why the Pebble namespace tests cannot run here, or nil when they can.
enum PebbleAvailability {
    static let reason: String? = {
        if let reason = NamespaceLab.unavailableReason { return reason }
        for tool in ["pebble", "pebble-challtestsrv", "curl", "openssl", "python3", "tshark"] where Shell.which(tool) == nil {
            return "the ACME tests need \(tool) (see .ci/apt-packages.txt)"
        }
        return nil
    }()
}
