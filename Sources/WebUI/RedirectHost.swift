// The host a port-80 redirect may point at: a DNS name, an IPv4 address or
// a bracketed IPv6 address, taken from the request and checked strictly,
// because it is copied into the Location of the redirect.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum RedirectHost {
    /// Longest DNS name and label (RFC 1035 §2.3.4).
    static let maxNameLength = 253
    static let maxLabelLength = 63
    /// The largest TCP port number.
    static let maxPort = 65_535

    /// Returns the host of `authority` (`host[:port]`), lowercased, without
    /// the port and without a trailing dot. Returns nil when the host is not
    /// a valid DNS name, IPv4 address or IPv6 literal, or the port is not a
    /// number in range.
    static func validated(_ authority: String) -> String? {
        var host = Substring(authority)
        var port: Substring = ""
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            port = host[host.index(after: close)...]
            host = host[...close]
            guard port.isEmpty || port.hasPrefix(":") else { return nil }
            port = port.dropFirst()
            let inner = String(host.dropFirst().dropLast())
            guard isIPv6(inner) else { return nil }
            guard isValidPort(port) else { return nil }
            return "[" + inner.lowercased() + "]"
        }
        if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard isValidPort(port) else { return nil }
        if host.hasSuffix(".") { host = host.dropLast() }
        let name = host.lowercased()
        return isDNSNameOrIPv4(name) ? name : nil
    }

    /// Empty (no port given) or 1...65535 in decimal digits.
    private static func isValidPort(_ port: Substring) -> Bool {
        if port.isEmpty { return true }
        guard port.utf8.count <= 5, port.utf8.allSatisfy(ASCII.isDigit), let value = Int(port) else { return false }
        return value >= 1 && value <= maxPort
    }

    /// Letters, digits and hyphens in dot-separated labels (RFC 1123 §2.1).
    /// A name whose last label is all digits must be a dotted-quad IPv4
    /// address, as browsers read it as one.
    private static func isDNSNameOrIPv4(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxNameLength else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= maxLabelLength,
                  label.utf8.allSatisfy({ ASCII.isAlpha($0) || ASCII.isDigit($0) || $0 == UInt8(ascii: "-") }),
                  !label.hasPrefix("-"), !label.hasSuffix("-")
            else { return false }
        }
        // Safe: split with omittingEmptySubsequences false returns at least one label.
        if labels.last!.utf8.allSatisfy(ASCII.isDigit) { return isIPv4(labels) }
        return true
    }

    /// Four decimal octets 0...255 without leading zeros (which some
    /// parsers read as octal).
    private static func isIPv4(_ labels: [Substring]) -> Bool {
        labels.count == 4 && labels.allSatisfy { label in
            label.utf8.allSatisfy(ASCII.isDigit) && label.utf8.count <= 3
                && !(label.utf8.count > 1 && label.hasPrefix("0")) && (Int(label) ?? 256) <= 255
        }
    }

    /// Checks for an IPv6 address as `inet_pton` reads it. Zone identifiers
    /// and IPvFuture literals are rejected.
    private static func isIPv6(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.allSatisfy({ ASCII.hexValue($0) != nil || $0 == ASCII.colon
            || $0 == UInt8(ascii: ".") }) else { return false }
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
