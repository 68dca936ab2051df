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
        let cases: [([String], String)] = [
            (["--acme-directory", "https://acme-v02.api.letsencrypt.org/directory", "--acme-agree-tos"],
             "requires --profile production"),
            (["--acme", "--cert", "a.pem", "--key", "a.key"], "--acme and --cert both give the HTTPS certificate"),
            (["--acme", "--acme-email", "not-an-address"], "invalid --acme-email 'not-an-address'"),
            (["--acme", "--dns-server", "192.0.2.1:0"], "invalid --dns-server '0'"),
            (["--acme", "--dns-server", "resolver.example"], "invalid --dns-server 'resolver.example'"),
            (["--acme-directory", "http://192.0.2.1:14000/dir"], "ACME directories are https:// URLs"),
            (["--acme-email", "ops@example.org"], "--acme-email configures ACME, which is off"),
            (["--acme", "--acme-eab-kid", "kid-1"], "--acme-eab-kid and --acme-eab-hmac-key go together"),
        ]
        for (arguments, message) in cases {
            let result = try Self.serve(lab, Self.base(state) + arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect((result.errorOutput + result.output).contains(message), "\(arguments): \(result.errorOutput)")
        }
        // Rejected at parse time: the state directory was never created.
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    /// Without --acme-directory the CA is Let's Encrypt staging. Its host
    /// name needs a DNS server, so with none the first run fails with an
    /// error naming the option, before any packet leaves.
    @Test func stagingIsTheDefaultCA() throws {
        let lab = try NamespaceLab(tag: "acmestg")
        defer { lab.tearDown() }
        let directory = try TemporaryDirectory()
        let stack = try lab.startCapnet(Self.base(directory.path + "/state") + ["--acme", "--acme-agree-tos"])
        try stack.waitForOutput(containing: "certificate check failed", timeout: 60)
        #expect(stack.log.contains("directory=https://acme-staging-v02.api.letsencrypt.org/directory"))
        #expect(stack.log.contains("needs a DNS server to resolve it: give --dns-server ADDRESS"))
        #expect(stack.log.contains("retry_in=60s"))
        #expect(stack.stop() == 0)
    }
}
