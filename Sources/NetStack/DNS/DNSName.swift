/// A domain name as a sequence of labels, compared without regard to ASCII
/// case (RFC 1035 §2.3.3, RFC 4343).
///
/// Names from callers go through `init(_:)`, which accepts host names only.
/// Names read from a response keep whatever octets the server sent, because
/// RFC 2181 §11 allows any octet in a label.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// RFC 1035 §2.3.4: a label is 1 to 63 octets.
    public static let maximumLabelLength = 63
    /// RFC 1035 §2.3.4: a name takes at most 255 octets on the wire, length
    /// octets and the closing root label included.
    public static let maximumWireLength = 255

    /// The labels from the leftmost to the rightmost, without the root label.
    public let labels: [[UInt8]]

    /// Labels as read from a message. The caller has checked each label's
    /// length and the total wire length.
    init(wireLabels: [[UInt8]]) {
        labels = wireLabels
    }

    /// Parses a host name such as `acme.example.` or `capnet.test`. Labels
    /// contain ASCII letters, digits, hyphens and underscores (the underscore
    /// for service names such as `_acme-challenge`), and one trailing dot
    /// is allowed.
    public init(_ text: String) throws(DNSError) {
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        guard !body.isEmpty else {
            throw .invalidName(text, reason: "the name is empty; give a host name such as acme.example")
        }

        var labels: [[UInt8]] = []
        var wireLength = 1  // the root label
        for part in body.split(separator: ".", omittingEmptySubsequences: false) {
            let octets = Array(part.utf8)
            guard !octets.isEmpty else {
                throw .invalidName(text, reason: "it contains an empty label (two dots in a row or a leading dot)")
            }
            guard octets.count <= Self.maximumLabelLength else {
                throw .invalidName(text, reason: "label \"\(part)\" has \(octets.count) octets, above the maximum of \(Self.maximumLabelLength)")
            }
            if let bad = part.unicodeScalars.first(where: { !$0.isASCII || !Self.isHostNameOctet(UInt8($0.value)) }) {
                throw .invalidName(text, reason: "label \"\(part)\" contains \"\(bad)\"; only ASCII letters, digits, '-' and '_' are allowed (convert an international name to its xn-- form first)")
            }
            labels.append(octets)
            wireLength += 1 + octets.count
        }
        guard wireLength <= Self.maximumWireLength else {
            throw .invalidName(text, reason: "it takes \(wireLength) octets on the wire, above the maximum of \(Self.maximumWireLength)")
        }
        self.labels = labels
    }

    /// Returns whether a host name label may contain `octet`. RFC 1123 §2.1
    /// allows letters, digits and hyphen, and RFC 8552 adds the underscore of service labels.
    static func isHostNameOctet(_ octet: UInt8) -> Bool {
        switch octet {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// The octets the name takes on the wire, uncompressed.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// The name with ASCII letters in lower case, the key for comparisons and the cache.
    public var canonical: DNSName {
        DNSName(wireLabels: labels.map { $0.map(Self.lowercased) })
    }

    private static func lowercased(_ octet: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(octet) ? octet | 0x20 : octet
    }

    /// Compares without regard to ASCII case, as RFC 4343 requires.
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.labels.count == rhs.labels.count else { return false }
        for (left, right) in zip(lhs.labels, rhs.labels) {
            guard left.count == right.count else { return false }
            for (a, b) in zip(left, right) where lowercased(a) != lowercased(b) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for label in labels {
            hasher.combine(label.count)
            for octet in label { hasher.combine(Self.lowercased(octet)) }
        }
    }

    /// The name in presentation form without the trailing dot. Octets other
    /// than printable ASCII and dots inside labels appear as `\DDD`
    /// (RFC 1035 §5.1).
    public var description: String {
        labels.map { label in
            label.map { octet -> String in
                if octet > 0x20, octet < 0x7F, octet != UInt8(ascii: "."), octet != UInt8(ascii: "\\") {
                    return String(Character(Unicode.Scalar(octet)))
                }
                let digits = String(octet)
                return "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            }.joined()
        }.joined(separator: ".")
    }
}
