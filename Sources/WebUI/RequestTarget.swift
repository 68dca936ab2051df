// The request-target forms of RFC 9112 §3.2 and their syntax (RFC 3986).

/// The request-target (RFC 9112 §3.2), parsed and syntax-checked. Paths and
/// queries are kept exactly as received (still percent-encoded); the router
/// decodes them.
public enum RequestTarget: Hashable, Sendable, CustomStringConvertible {
    /// `/path?query`, the usual form.
    case origin(path: String, query: String?)
    /// `http://host/path?query`; servers must accept it (RFC 9112 §3.2.2).
    /// The scheme is lowercased; an empty path is reported as "/".
    case absolute(scheme: String, authority: String, path: String, query: String?)
    /// `host:port`, only with CONNECT.
    case authority(String)
    /// `*`, only with OPTIONS.
    case asterisk

    /// The absolute path, still percent-encoded; nil for authority and
    /// asterisk forms.
    public var path: String? {
        switch self {
        case .origin(let path, _), .absolute(_, _, let path, _): path
        case .authority, .asterisk: nil
        }
    }

    /// The query without its "?", still percent-encoded.
    public var query: String? {
        switch self {
        case .origin(_, let query), .absolute(_, _, _, let query): query
        case .authority, .asterisk: nil
        }
    }

    public var description: String {
        switch self {
        case .origin(let path, let query): path + (query.map { "?" + $0 } ?? "")
        case .absolute(let scheme, let authority, let path, let query):
            "\(scheme)://\(authority)\(path)" + (query.map { "?" + $0 } ?? "")
        case .authority(let authority): authority
        case .asterisk: "*"
        }
    }
}

/// Syntax checks for request-targets and authorities (RFC 3986 via RFC 9110).
enum TargetSyntax {
    /// Parses a request-target for `method`, or nil when it is not valid.
    static func parse(_ bytes: ArraySlice<UInt8>, method: HTTPMethod) -> RequestTarget? {
        guard let first = bytes.first else { return nil }
        if method == .CONNECT {
            // authority-form = uri-host ":" port (RFC 9112 §3.2.3).
            guard isAuthority(bytes, requirePort: true) else { return nil }
            return .authority(String(decoding: bytes, as: UTF8.self))
        }
        if first == UInt8(ascii: "/") {
            guard let (path, query) = splitPathQuery(bytes) else { return nil }
            return .origin(path: path, query: query)
        }
        if bytes.count == 1, first == UInt8(ascii: "*") {
            return method == .OPTIONS ? .asterisk : nil
        }
        return parseAbsolute(bytes)
    }

    /// absolute-path [ "?" query ], validated character by character.
    static func splitPathQuery(_ bytes: ArraySlice<UInt8>) -> (String, String?)? {
        let q = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = bytes[bytes.startIndex..<(q ?? bytes.endIndex)]
        guard isValid(pathBytes, allowing: { $0 == UInt8(ascii: "/") }) else { return nil }
        let path = String(decoding: pathBytes, as: UTF8.self)
        guard let q else { return (path, nil) }
        let queryBytes = bytes[(q + 1)...]
        guard isValid(queryBytes, allowing: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
        else { return nil }
        return (path, String(decoding: queryBytes, as: UTF8.self))
    }

    /// Checks that every byte is a pchar, a well-formed `%HH`, or one `extra` allows.
    static func isValid(_ bytes: ArraySlice<UInt8>, allowing extra: (UInt8) -> Bool) -> Bool {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == ASCII.percent {
                guard i + 2 < bytes.endIndex,
                      ASCII.hexValue(bytes[i + 1]) != nil, ASCII.hexValue(bytes[i + 2]) != nil
                else { return false }
                i += 3
                continue
            }
            guard ASCII.isPcharLiteral(b) || extra(b) else { return false }
            i += 1
        }
        return true
    }

    /// absolute-form for the http and https schemes (RFC 9110 §4.2):
    /// `scheme "://" authority path-abempty [ "?" query ]`, no userinfo,
    /// non-empty host.
    static func parseAbsolute(_ bytes: ArraySlice<UInt8>) -> RequestTarget? {
        guard let colon = bytes.firstIndex(of: ASCII.colon) else { return nil }
        let schemeBytes = bytes[bytes.startIndex..<colon]
        guard let s0 = schemeBytes.first, ASCII.isAlpha(s0),
              schemeBytes.allSatisfy({ ASCII.isAlpha($0) || ASCII.isDigit($0) || $0 == UInt8(ascii: "+")
                  || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { return nil }
        let scheme = String(decoding: schemeBytes.map(ASCII.lower), as: UTF8.self)
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = bytes[(colon + 1)...]
        guard rest.starts(with: [UInt8(ascii: "/"), UInt8(ascii: "/")]) else { return nil }
        let afterSlashes = rest.dropFirst(2)
        let authorityEnd = afterSlashes.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
            ?? afterSlashes.endIndex
        let authority = afterSlashes[afterSlashes.startIndex..<authorityEnd]
        guard !authority.contains(UInt8(ascii: "@")), isAuthority(authority, requirePort: false),
              hostPart(of: authority).count > 0
        else { return nil }
        let tail = afterSlashes[authorityEnd...]
        var path = "/", query: String?
        if !tail.isEmpty {
            if tail.first == UInt8(ascii: "?") {
                guard let (_, q) = splitPathQuery(ArraySlice([UInt8(ascii: "/")] + tail)) else { return nil }
                query = q
            } else {
                guard let (p, q) = splitPathQuery(tail) else { return nil }
                path = p
                query = q
            }
        }
        return .absolute(scheme: scheme, authority: String(decoding: authority, as: UTF8.self),
                         path: path, query: query)
    }

    /// Returns the host part of `host[:port]`, keeping the brackets of IP literals.
    static func hostPart(of authority: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return authority }
            return authority[authority.startIndex...close]
        }
        let colon = authority.firstIndex(of: ASCII.colon) ?? authority.endIndex
        return authority[authority.startIndex..<colon]
    }

    /// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): IP-literal
    /// in brackets, or a reg-name of unreserved, sub-delims and `%HH` (which
    /// also covers IPv4address); port is digits. An empty host is syntactically
    /// allowed (RFC 9112 §3.2); callers that need one check separately.
    static func isAuthority(_ bytes: ArraySlice<UInt8>, requirePort: Bool) -> Bool {
        var i = bytes.startIndex
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let inner = bytes[(i + 1)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ ASCII.isUnreserved($0) || ASCII.isSubDelim($0)
                || $0 == ASCII.colon }) else { return false }
            i = close + 1
        } else {
            while i < bytes.endIndex, bytes[i] != ASCII.colon {
                let b = bytes[i]
                if b == ASCII.percent {
                    guard i + 2 < bytes.endIndex, ASCII.hexValue(bytes[i + 1]) != nil,
                          ASCII.hexValue(bytes[i + 2]) != nil else { return false }
                    i += 3
                    continue
                }
                guard ASCII.isUnreserved(b) || ASCII.isSubDelim(b) else { return false }
                i += 1
            }
        }
        if i == bytes.endIndex { return !requirePort }
        guard bytes[i] == ASCII.colon else { return false }
        let port = bytes[(i + 1)...]
        if requirePort && port.isEmpty { return false }
        return port.allSatisfy(ASCII.isDigit)
    }
}
