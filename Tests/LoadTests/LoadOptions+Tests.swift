import CapnetBase
import Testing
@testable import capnet_load

@Suite struct LoadOptionsParsingTests {
    static func options(_ arguments: [String]) throws -> LoadOptions {
        guard case .run(let options) = try LoadOptions.parse(arguments) else {
            throw UsageError("expected a run, got help")
        }
        return options
    }

    /// Returns the message of the UsageError that parsing `arguments` throws.
    static func errorMessage(_ arguments: [String]) -> String? {
        do {
            _ = try LoadOptions.parse(arguments)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func defaultsForIPTarget() throws {
        let options = try Self.options(["https://127.0.0.1:4433/"])
        #expect(options.target.host == "127.0.0.1")
        #expect(options.target.port == 4433)
        #expect(options.target.path == "/")
        #expect(options.mode == .full)
        #expect(options.pacing == .concurrency(16))
        #expect(options.threads == 1)
        #expect(options.duration == .seconds(10))
        #expect(options.count == nil)
        #expect(options.connectionTimeout == .seconds(5))
        #expect(options.group == .x25519)
        #expect(options.cipherSuites == nil)
        #expect(options.alpn == ["http/1.1"])
        #expect(options.serverName == nil)
        #expect(options.verification == .systemRoots)
        #expect(!options.allowAnyTarget)
        #expect(!options.json)
    }

    @Test func hostNameBecomesServerName() throws {
        let options = try Self.options(["https://localhost/index.html?x=1"])
        #expect(options.serverName == "localhost")
        #expect(options.target.port == 443)
        #expect(options.target.path == "/index.html?x=1")
        #expect(options.target.hostHeader == "localhost")
    }

    @Test func ipv6Literal() throws {
        let options = try Self.options(["https://[::1]:8443/a"])
        #expect(options.target.host == "::1")
        #expect(options.target.port == 8443)
        #expect(options.target.hostIsIPLiteral)
        #expect(options.target.hostHeader == "[::1]:8443")
        #expect(options.serverName == nil)
    }

    @Test func everyOptionParsed() throws {
        let options = try Self.options([
            "--mode", "get-resumed", "--rate=250.5", "--max-in-flight", "50", "--threads", "2",
            "--duration", "2.5", "--count", "100", "--timeout", "0.5", "--group", "p-256",
            "--suite", "TLS_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256", "--alpn", "h2,http/1.1",
            "--sni", "example.test", "--cacert", "ca.pem", "--allow-any-target", "--json",
            "https://192.0.2.1:8443/",
        ])
        #expect(options.mode == .getResumed)
        #expect(options.pacing == .rate(perSecond: 250.5, maxInFlight: 50))
        #expect(options.threads == 2)
        #expect(options.duration == .milliseconds(2_500))
        #expect(options.count == 100)
        #expect(options.connectionTimeout == .milliseconds(500))
        #expect(options.group == .p256)
        #expect(options.cipherSuites == "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256")
        #expect(options.alpn == ["h2", "http/1.1"])
        #expect(options.serverName == "example.test")
        #expect(options.verification == .caFile("ca.pem"))
        #expect(options.allowAnyTarget)
        #expect(options.json)
    }

    @Test func countAloneSetsSafetyDuration() throws {
        let options = try Self.options(["--count", "200", "https://127.0.0.1/"])
        #expect(options.count == 200)
        #expect(options.duration == .seconds(60))
    }

    @Test func insecureAndNoALPN() throws {
        let options = try Self.options(["--insecure", "--alpn", "none", "--sni", "none", "https://localhost/"])
        #expect(options.verification == LoadOptions.Verification.none)
        #expect(options.alpn.isEmpty)
        #expect(options.serverName == nil)
    }

    @Test func helpAnywhere() throws {
        let command = try LoadOptions.parse(["--count", "5", "--help"])
        #expect(command == .help)
        let text = LoadOptions.helpText
        for option in LoadOptions.optionTable {
            #expect(text.contains(option.name), "help lacks \(option.name)")
        }
    }

    @Test(arguments: [
        (["--concurrency", "0", "https://127.0.0.1/"], "invalid value '0' for --concurrency"),
        (["--concurrency", "ten", "https://127.0.0.1/"], "invalid value 'ten' for --concurrency"),
        (["--duration", "-1", "https://127.0.0.1/"], "invalid value '-1' for --duration"),
        (["--duration", "7200", "https://127.0.0.1/"], "invalid value '7200' for --duration"),
        (["--timeout", "abc", "https://127.0.0.1/"], "invalid value 'abc' for --timeout"),
        (["--group", "P-521", "https://127.0.0.1/"], "invalid value 'P-521' for --group"),
        (["--mode", "fast", "https://127.0.0.1/"], "invalid value 'fast' for --mode"),
        (["--suite", "TLS_RSA_WITH_RC4", "https://127.0.0.1/"], "unknown TLS 1.3 cipher suite 'TLS_RSA_WITH_RC4'"),
        (["--rate", "10", "--concurrency", "5", "https://127.0.0.1/"], "--rate and --concurrency exclude each other"),
        (["--max-in-flight", "5", "https://127.0.0.1/"], "--max-in-flight applies only with --rate"),
        (["--threads", "4", "--concurrency", "2", "https://127.0.0.1/"], "--threads 4 is more than --concurrency 2"),
        (["--insecure", "--cacert", "ca.pem", "https://127.0.0.1/"], "--insecure and --cacert exclude each other"),
        (["--frobnicate", "https://127.0.0.1/"], "unknown option '--frobnicate'"),
        (["--count"], "missing value for --count: expected N"),
        (["--json=yes", "https://127.0.0.1/"], "option --json takes no value"),
        ([], "missing target URL"),
        (["https://127.0.0.1/", "https://127.0.0.2/"], "expected one target URL, got 2"),
        (["http://127.0.0.1/"], "invalid URL 'http://127.0.0.1/'"),
        (["https://127.0.0.1:70000/"], "invalid port '70000'"),
        (["https://127.0.0.1:0/"], "invalid port '0'"),
        (["https:///path"], "the host is missing"),
        (["https://user@127.0.0.1/"], "user names and passwords"),
        (["https://[::1/"], "no closing ']'"),
        (["--sni", "bad name", "https://127.0.0.1/"], "invalid value 'bad name' for --sni"),
        (["--alpn", "h2,,http/1.1", "https://127.0.0.1/"], "invalid value 'h2,,http/1.1' for --alpn"),
    ])
    func invalidInputNamesTheValue(arguments: [String], expected: String) {
        let message = Self.errorMessage(arguments)
        #expect(message?.contains(expected) == true, "message: \(message ?? "none")")
    }
}

@Suite struct TargetPolicyTests {
    static func resolve(_ host: String) throws -> TargetAddress {
        try TargetAddress.resolve(host: host, port: 443)
    }

    @Test(arguments: ["127.0.0.1", "127.255.255.254", "::1", "192.0.2.10", "198.51.100.1",
                      "203.0.113.255", "::ffff:127.0.0.1", "::ffff:192.0.2.7"])
    func allowedAddress(host: String) throws {
        let address = try Self.resolve(host)
        #expect(TargetPolicy.isAllowed(address.host))
        try TargetPolicy.check(address, hostName: host, allowAnyTarget: false)
    }

    @Test(arguments: ["10.0.0.1", "8.8.8.8", "192.0.3.1", "172.16.0.1", "192.168.1.1",
                      "198.51.101.1", "0.0.0.0", "::2", "2001:db8::1", "::ffff:10.0.0.1"])
    func rejectedAddress(host: String) throws {
        let address = try Self.resolve(host)
        #expect(!TargetPolicy.isAllowed(address.host))
        var message = ""
        do {
            try TargetPolicy.check(address, hostName: host, allowAnyTarget: false)
        } catch {
            message = error.message
        }
        #expect(message.contains(address.hostText))
        #expect(message.contains("--allow-any-target"))

        try TargetPolicy.check(address, hostName: host, allowAnyTarget: true)
    }

    @Test func hostNameCheckedAfterResolution() throws {
        // localhost resolves through /etc/hosts, without a DNS query.
        let address = try Self.resolve("localhost")
        #expect(TargetPolicy.isAllowed(address.host))
        #expect(address.hostText == "127.0.0.1" || address.hostText == "::1")
    }

    @Test func parsedURLThenCheck() throws {
        // The same path the command takes: parse, resolve, check. Nothing connects.
        for url in ["https://10.0.0.1/", "https://8.8.8.8:443/"] {
            let options = try LoadOptionsParsingTests.options([url])
            let address = try TargetAddress.resolve(host: options.target.host, port: options.target.port)
            #expect(throws: UsageError.self) {
                try TargetPolicy.check(address, hostName: options.target.host, allowAnyTarget: options.allowAnyTarget)
            }
        }
    }
}
