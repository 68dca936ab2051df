import Foundation
import Testing

/// The `--acme` options of `capnet serve`: which CA is used by default, and
/// the combinations rejected before any traffic. Each run happens inside a
/// namespace of its own, which has no route out.
@Suite(.enabled(if: NamespaceLab.isAvailable, Comment(rawValue: NamespaceLab.unavailableReason ?? "")),
       .timeLimit(.minutes(3)))
struct ACMEOptionsTests {
    static func base(_ stateDirectory: String) -> [String] {
        ["--tap", NamespaceLab.tapName, "--address", "\(NamespaceLab.stackAddress)/\(NamespaceLab.prefixLength)",
         "--state-dir", stateDirectory]
    }

    /// Runs `capnet serve` in `lab` and returns its exit status and output.
    static func serve(_ lab: NamespaceLab, _ arguments: [String]) throws -> Shell.Result {
        try lab.exec([Shell.capnetBinary, "serve"] + arguments, timeout: 20, allowFailure: true)
    }

    @Test func rejectedCombinations() throws {
        let lab = try NamespaceLab(tag: "acmeopt")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let state = directory.path + "/state"
        let pebble = ["--acme-directory", "https://192.0.2.1:14000/dir"]
        let production = "requires --profile production"
        let cases: [([String], String)] = [
            (["--acme-directory", "https://acme-v02.api.letsencrypt.org/directory"], production),
            (["--acme-directory", "https://ACME-v02.api.letsencrypt.org:443/directory"], production),
            (["--acme-directory", "https://acme-v02.api.letsencrypt.org./directory"], production),
            (["--acme"], "the default CA, Let's Encrypt staging, names the host acme-staging-v02.api.letsencrypt.org"),
            (["--acme-directory", "https://ca.example.org/dir"], "give --dns-server IP"),
            (["--acme-directory", "https://192.0.2.1:99999/dir"], "has port \"99999\""),
            (["--acme-directory", "https://198.51.100.1/dir"], "is outside the subnet 192.0.2.0/24, and there is no --gateway"),
            (["--acme", "--dns-server", "203.0.113.53"], "--dns-server 203.0.113.53 is outside the subnet 192.0.2.0/24"),
            (["--acme-directory", "http://192.0.2.1:14000/dir"], "ACME directories are https:// URLs"),
            (pebble + ["--cert", "a.pem", "--key", "a.key"], "--acme and --cert both give the HTTPS certificate"),
            (pebble + ["--acme-email", "not-an-address"], "invalid --acme-email 'not-an-address'"),
            (pebble + ["--acme-email", "mailto:ops@example.org"], "give the bare address"),
            (pebble + ["--acme-email", "o\"p@example.org"], "invalid --acme-email"),
            (pebble + ["--dns-server", "192.0.2.1:0"], "invalid --dns-server '0'"),
            (pebble + ["--dns-server", "resolver.example"], "invalid --dns-server 'resolver.example'"),
            (pebble + ["--acme-eab-kid", "kid-1"], "--acme-eab-kid and --acme-eab-hmac-key go together"),
            (["--acme-email", "ops@example.org"], "--acme-email configures ACME, which is off"),
        ]
        for (arguments, message) in cases {
            let result = try Self.serve(lab, Self.base(state) + arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect((result.errorOutput + result.output).contains(message), "\(arguments): \(result.errorOutput)")
        }
        // Rejected at parse time: the state directory was never created.
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    /// A CA that cannot be reached: the development profile serves the
    /// development CA's certificate meanwhile, so the dashboard's API shows
    /// the failure before any ACME certificate exists.
    @Test func firstFailureShownInStatus() throws {
        let lab = try NamespaceLab(tag: "acmefail")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let state = directory.path + "/state"
        // Nothing listens on port 9 of the kernel side, so the kernel resets the connection.
        let stack = try lab.startCapnet(Self.base(state) + ["--acme-directory", "https://192.0.2.1:9/dir"])
        try stack.waitForOutput(containing: "next ACME certificate check scheduled", timeout: 90)
        #expect(stack.log.contains("serving the development CA's certificate until one is issued"))

        let token = try String(contentsOfFile: state + "/admin-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let status = try lab.exec(["curl", "--silent", "--show-error", "--max-time", "15", "--cacert", state + "/ca.pem",
                                   "--header", "Authorization: Bearer \(token)",
                                   "https://\(NamespaceLab.stackAddress)/api/status"]).output
        #expect(status.contains("\"state\":\"failed\""), "\(status)")
        #expect(status.contains("TCP connection to 192.0.2.1:9 failed: connection refused"), "\(status)")
        #expect(status.contains("development CA"), "\(status)")
        #expect(stack.log.contains("retry_in=60s"))
        #expect(stack.stop() == 0)
        #expect(!stack.log.contains("CancellationError"))
    }
}
