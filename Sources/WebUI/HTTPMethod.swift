// Request methods (RFC 9110 §9) and protocol versions (RFC 9112 §2.3).

/// A request method (RFC 9110 §9). Methods are case-sensitive tokens; the
/// parser accepts any token and leaves "unknown method" (501) to the router.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let GET = HTTPMethod("GET")
    public static let HEAD = HTTPMethod("HEAD")
    public static let POST = HTTPMethod("POST")
    public static let PUT = HTTPMethod("PUT")
    public static let DELETE = HTTPMethod("DELETE")
    public static let CONNECT = HTTPMethod("CONNECT")
    public static let OPTIONS = HTTPMethod("OPTIONS")
    public static let TRACE = HTTPMethod("TRACE")
    public static let PATCH = HTTPMethod("PATCH")

    public var description: String { rawValue }
}

/// An HTTP version as it appears on the request line: `HTTP/<major>.<minor>`.
public struct HTTPVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    public var description: String { "HTTP/\(major).\(minor)" }
}
