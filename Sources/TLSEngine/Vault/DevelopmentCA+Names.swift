#if canImport(Glibc)
import Glibc
#endif

/// Checks on the names a server certificate is issued for.
extension DevelopmentCA {
    /// RFC 1035 §2.3.4: at most 63 octets in a label.
    static let maximumLabelLength = 63
    /// RFC 1035 §2.3.4 allows 255 octets on the wire, which is 253 characters in dotted text.
    static let maximumNameLength = 253

    private static let ldhCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

    /// Throws `invalidDNSName` unless `name` is an LDH host name (RFC 1123 §2.1),
    /// without a trailing dot, and not an IP address literal.
    static func validateDNSName(_ name: String) throws {
        guard !name.isEmpty, name.count <= maximumNameLength, parseIPAddress(name) == nil else {
            throw DevelopmentCAError.invalidDNSName(name)
        }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= maximumLabelLength,
                  label.allSatisfy({ ldhCharacters.contains($0) }),
                  label.first != "-", label.last != "-" else {
                throw DevelopmentCAError.invalidDNSName(name)
            }
        }
    }

    /// Returns the address family of an IPv4 or IPv6 literal, or nil when `text` is neither.
    static func parseIPAddress(_ text: String) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: MemoryLayout<in6_addr>.size)
        if inet_pton(AF_INET, text, &buffer) == 1 { return AF_INET }
        if inet_pton(AF_INET6, text, &buffer) == 1 { return AF_INET6 }
        return nil
    }

    /// Checks every entry and returns the subjectAltName value in x509v3_config syntax.
    static func subjectAltName(dnsNames: [String], ipAddresses: [String]) throws -> String {
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else { throw DevelopmentCAError.noNames }
        for name in dnsNames { try validateDNSName(name) }
        for address in ipAddresses where parseIPAddress(address) == nil {
            throw DevelopmentCAError.invalidIPAddress(address)
        }
        // Validated names and addresses contain no ',' or ':' that could end an entry early,
        // except an IPv6 literal, whose colons the IP: entry parser reads as part of the address.
        let entries = dnsNames.map { "DNS:" + $0 } + ipAddresses.map { "IP:" + $0 }
        return entries.joined(separator: ",")
    }
}
