import Acme
import NetStack
import TLSEngine

/// The `--acme-*` options: where the certificate comes from when an ACME CA
/// issues it, and what the operator agreed to.
struct ACMESettings {
    /// Let's Encrypt's staging CA, used when `--acme` is given without
    /// `--acme-directory`. Its certificates are not publicly trusted.
    static let letsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
    /// Let's Encrypt's production CA: only with an explicit `--acme-directory`
    /// and `--profile production`, so tests and demos never spend its rate limits.
    static let letsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"

    var directoryURL: String
    /// PEM roots for the CA's own HTTPS, or nil for the system bundle.
    var caBundlePath: String?
    var contact: [String]
    var termsOfServiceAgreed: Bool
    var externalAccountKeyID: String?
    var externalAccountMACKey: String?
    /// The DNS server for host names in the directory URL.
    var dnsServer: IPv4Endpoint?

    static let specs: [OptionSpec] = [
        OptionSpec(name: "acme", kind: .flag,
                   help: "Obtain and renew the HTTPS certificate from an ACME CA (RFC 8555), responding to http-01 "
                       + "on --http-port through the stack itself. The certificate covers every --domain, or the "
                       + "stack's address when no --domain is given. Default CA: Let's Encrypt staging, reached by "
                       + "name, so it needs --dns-server (and --gateway for anything off the subnet)."),
        OptionSpec(name: "acme-directory", kind: .value(placeholder: "URL"),
                   help: "The ACME CA's directory URL, https only (implies --acme). The Let's Encrypt production "
                       + "directory is accepted only with --profile production. Default: \(letsEncryptStaging)."),
        OptionSpec(name: "acme-ca-bundle", kind: .value(placeholder: "PEM"),
                   help: "PEM file of the root certificates that the ACME CA's HTTPS server must chain to. "
                       + "Default: the system bundle \(TrustStore.systemBundlePath)."),
        OptionSpec(name: "acme-email", kind: .repeated(placeholder: "ADDRESS"),
                   help: "Contact address for the ACME account, given bare (capnet sends mailto:ADDRESS). "
                       + "Default: none."),
        OptionSpec(name: "acme-agree-tos", kind: .flag,
                   help: "Agree to the ACME CA's terms of service. Required by CAs that publish terms, "
                       + "such as Let's Encrypt; read them first."),
        OptionSpec(name: "acme-eab-kid", kind: .value(placeholder: "KEY_ID"),
                   help: "External Account Binding key identifier from the CA (with --acme-eab-hmac-key)."),
        OptionSpec(name: "acme-eab-hmac-key", kind: .value(placeholder: "BASE64URL"),
                   help: "External Account Binding MAC key from the CA, base64url as the CA gives it."),
        OptionSpec(name: "dns-server", kind: .value(placeholder: "IP[:PORT]"),
                   help: "DNS server (RFC 1035, over UDP) that the stack asks for the ACME CA's host name. "
                       + "Default: none (the --acme-directory URL must then name an IPv4 address)."),
    ]

    /// Reads the ACME options, or returns nil when ACME is off.
    /// Let's Encrypt production's host, compared after URL parsing so that
    /// an explicit port or a trailing dot cannot slip past the profile check.
    static let letsEncryptProductionHost = "acme-v02.api.letsencrypt.org"

    static func parse(_ options: ParsedOptions, profile: ServeConfiguration.ServiceProfile,
                      hasCertificateFile: Bool, network: IPv4Network, gateway: IPv4Address?) throws -> ACMESettings? {
        let dnsServer = try options.value("dns-server").map(parseDNSServer)
        guard options.has("acme") || options.has("acme-directory") else {
            if let given = ["acme-ca-bundle", "acme-email", "acme-agree-tos", "acme-eab-kid", "acme-eab-hmac-key",
                            "dns-server"]
                .first(where: { options.has($0) }) {
                throw UsageError("--\(given) configures ACME, which is off: add --acme or --acme-directory URL")
            }
            return nil
        }
        if hasCertificateFile {
            throw UsageError("--acme and --cert both give the HTTPS certificate: choose one")
        }
        let directory = options.value("acme-directory") ?? letsEncryptStaging
        guard directory.lowercased().hasPrefix("https://") else {
            throw UsageError("invalid --acme-directory '\(directory)': ACME directories are https:// URLs")
        }
        let target: HTTPSRequestTarget
        do {
            target = try HTTPSRequestTarget(url: directory)
        } catch {
            throw UsageError("invalid --acme-directory '\(directory)': \(error)")
        }
        if target.host == letsEncryptProductionHost, profile != .production {
            throw UsageError("--acme-directory names Let's Encrypt production, which requires --profile production "
                + "(use the staging directory \(letsEncryptStaging) for tests)")
        }
        if let address = target.address {
            try checkReachable(address, what: "the ACME directory host", network: network, gateway: gateway)
        } else if dnsServer == nil {
            let which = options.value("acme-directory") == nil ? "the default CA, Let's Encrypt staging," : "--acme-directory"
            throw UsageError("\(which) names the host \(target.host), which the stack must resolve: give --dns-server IP "
                + "(with --gateway IP for a server outside \(network.networkAddress)/\(network.prefixLength)), "
                + "or an --acme-directory URL with an IPv4 address")
        }
        if let dnsServer {
            try checkReachable(dnsServer.address, what: "--dns-server", network: network, gateway: gateway)
        }
        let keyID = options.value("acme-eab-kid")
        let macKey = options.value("acme-eab-hmac-key")
        if (keyID == nil) != (macKey == nil) {
            throw UsageError("--acme-eab-kid and --acme-eab-hmac-key go together: give both or neither")
        }
        var contact: [String] = []
        for address in options.all("acme-email") {
            if address.lowercased().hasPrefix("mailto:") {
                throw UsageError("invalid --acme-email '\(address)': give the bare address, such as ops@example.org "
                    + "(capnet adds the mailto: itself)")
            }
            guard isMailAddress(address) else {
                throw UsageError("invalid --acme-email '\(address)': expected one address such as ops@example.org")
            }
            contact.append("mailto:" + address)
        }
        return ACMESettings(directoryURL: directory, caBundlePath: options.value("acme-ca-bundle"),
                            contact: contact, termsOfServiceAgreed: options.has("acme-agree-tos"),
                            externalAccountKeyID: keyID, externalAccountMACKey: macKey, dnsServer: dnsServer)
    }

    /// Rejects an off-subnet address when there is no gateway to reach it.
    static func checkReachable(_ address: IPv4Address, what: String, network: IPv4Network,
                               gateway: IPv4Address?) throws {
        guard !network.contains(address), gateway == nil else { return }
        throw UsageError("\(what) \(address) is outside the subnet \(network.networkAddress)/\(network.prefixLength), "
            + "and there is no --gateway to reach it: "
            + "give --gateway IP")
    }

    /// Accepts `local@domain` with an RFC 5322 dot-atom local part and an
    /// LDH domain, which is what CAs accept in a mailto: contact.
    static func isMailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, ServeConfiguration.isHostName(String(parts[1])), parts[1].contains(".") else {
            return false
        }
        let local = parts[0]
        let atomSymbols = Set("!#$%&'*+-/=?^_`{|}~")
        return !local.isEmpty && local.count <= 64 && local.first != "." && local.last != "." && !local.contains("..")
            && local.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || atomSymbols.contains($0)) }
    }

    /// Parses `IP` or `IP:PORT`, with port 53 by default.
    static func parseDNSServer(_ text: String) throws -> IPv4Endpoint {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPv4Address(String(parts[0])),
              address != IPv4Address(0, 0, 0, 0) else {
            throw UsageError("invalid --dns-server '\(text)': expected an IPv4 address with an optional port, "
                + "such as 192.0.2.1 or 192.0.2.1:53")
        }
        var port: UInt16 = 53
        if parts.count == 2 { port = try ServeConfiguration.parsePort(String(parts[1]), option: "dns-server") }
        return IPv4Endpoint(address: address, port: port)
    }
}
