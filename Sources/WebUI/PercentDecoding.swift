// Percent-decoding (RFC 3986 §2.1) for paths and queries. Paths are decoded
// one segment at a time. A segment that decodes to "/" or NUL, or that is a
// dot-segment, is rejected, because mapping such a path onto routes or files
// would let a request name something other than what it appears to.

public enum PercentDecoding {
    /// The reason a raw path cannot be mapped onto a resource.
    public enum PathError: Error, Hashable, Sendable {
        /// Not an absolute path (it does not start with "/").
        case notAbsolute
        /// A "%" not followed by two hex digits.
        case malformedEscape
        /// "%2F": a slash inside a segment.
        case encodedSlash
        /// "%00".
        case encodedNUL
        /// "." or ".." (also when written "%2e"), which RFC 3986 §5.2.4
        /// removes; clients remove them before sending.
        case dotSegment
        /// The decoded bytes are not UTF-8.
        case invalidUTF8
    }

    /// Decodes an absolute path into segments: "/" gives `[]`, "/a/b" gives
    /// `["a", "b"]` and "/a/" gives `["a", ""]`.
    public static func pathSegments(_ rawPath: String) -> Result<[String], PathError> {
        guard rawPath.utf8.first == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
        if rawPath == "/" { return .success([]) }
        var segments: [String] = []
        for raw in rawPath.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let decoded = decode(raw, plusAsSpace: false) else { return .failure(.malformedEscape) }
            if decoded.contains(UInt8(ascii: "/")) { return .failure(.encodedSlash) }
            if decoded.contains(0) { return .failure(.encodedNUL) }
            if decoded == [UInt8(ascii: ".")] || decoded == [UInt8(ascii: "."), UInt8(ascii: ".")] {
                return .failure(.dotSegment)
            }
            guard let segment = String(validating: decoded, as: UTF8.self) else { return .failure(.invalidUTF8) }
            segments.append(segment)
        }
        return .success(segments)
    }

    /// Decodes `%HH` escapes (and "+" as a space when `plusAsSpace`).
    /// Returns nil for a malformed escape.
    public static func decode<C: Collection>(_ raw: C, plusAsSpace: Bool) -> [UInt8]? where C.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i != raw.endIndex {
            let b = raw[i]
            if b == ASCII.percent {
                let h = raw.index(after: i)
                guard h != raw.endIndex else { return nil }
                let l = raw.index(after: h)
                guard l != raw.endIndex, let high = ASCII.hexValue(raw[h]), let low = ASCII.hexValue(raw[l])
                else { return nil }
                output.append(high << 4 | low)
                i = raw.index(after: l)
                continue
            }
            output.append(plusAsSpace && b == UInt8(ascii: "+") ? ASCII.sp : b)
            i = raw.index(after: i)
        }
        return output
    }

    /// Decodes to a String; nil for a malformed escape or invalid UTF-8.
    public static func decodeString<S: StringProtocol>(_ raw: S, plusAsSpace: Bool) -> String? {
        guard let bytes = decode(raw.utf8, plusAsSpace: plusAsSpace) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// The name=value pairs of a query in the
/// `application/x-www-form-urlencoded` convention: pairs separated by "&",
/// "+" for space, percent-decoded, order and repeats kept.
public struct QueryParameters: Hashable, Sendable {
    public struct Item: Hashable, Sendable {
        public var name: String
        public var value: String
    }

    public private(set) var items: [Item] = []

    public init() {}

    /// Parses a raw query (without "?"); nil when an escape is malformed or
    /// a name or value is not UTF-8. A pair without "=" has an empty value.
    public init?(rawQuery: String?) {
        guard let rawQuery else { return }
        for pair in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decodeString(parts[0], plusAsSpace: true),
                  let value = parts.count > 1 ? PercentDecoding.decodeString(parts[1], plusAsSpace: true) : ""
            else { return nil }
            items.append(Item(name: name, value: value))
        }
    }

    /// The first value for `name`.
    public subscript(name: String) -> String? { items.first(where: { $0.name == name })?.value }

    public func values(for name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }
}
