// The request line (RFC 9112 §3) and the HTTP version (RFC 9112 §2.3).

/// The parsed request line.
struct RequestLine: Hashable, Sendable {
    var method: HTTPMethod
    var target: RequestTarget
    var rawTarget: String
    var version: HTTPVersion
}

extension HTTPRequestParser {
    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3),
    /// single spaces only.
    static func parseRequestLine(_ line: ArraySlice<UInt8>,
                                 limits: HTTPParserLimits) -> Result<RequestLine, HTTPParseError> {
        func failure(_ reason: HTTPParseError.Reason) -> Result<RequestLine, HTTPParseError> {
            .failure(HTTPParseError(reason))
        }

        guard let sp1 = line.firstIndex(of: ASCII.sp) else { return failure(.malformedRequestLine) }
        let methodBytes = line[line.startIndex..<sp1]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(ASCII.isTchar) else { return failure(.invalidMethod) }
        if methodBytes.count > limits.maxMethodLength { return failure(.methodTooLong) }

        let rest = line[(sp1 + 1)...]
        guard let sp2 = rest.firstIndex(of: ASCII.sp) else { return failure(.malformedRequestLine) }
        let targetBytes = rest[rest.startIndex..<sp2]
        guard !targetBytes.isEmpty else { return failure(.malformedRequestLine) }

        let version: HTTPVersion
        switch parseVersion(rest[(sp2 + 1)...]) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): version = parsed
        }

        let method = HTTPMethod(String(decoding: methodBytes, as: UTF8.self))
        guard let target = TargetSyntax.parse(targetBytes, method: method) else { return failure(.invalidTarget) }
        return .success(RequestLine(method: method, target: target,
                                    rawTarget: String(decoding: targetBytes, as: UTF8.self), version: version))
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3). Major version
    /// 1 is served (minor versions above 1 as 1.1, RFC 9110 §6.2); any other
    /// major gives 505.
    static func parseVersion(_ bytes: ArraySlice<UInt8>) -> Result<HTTPVersion, HTTPParseError> {
        let b = Array(bytes)
        guard b.count == 8, b[0..<5].elementsEqual("HTTP/".utf8), ASCII.isDigit(b[5]),
              b[6] == UInt8(ascii: "."), ASCII.isDigit(b[7])
        else { return .failure(HTTPParseError(.invalidVersion)) }
        let version = HTTPVersion(major: Int(b[5] - 0x30), minor: Int(b[7] - 0x30))
        guard version.major == 1 else { return .failure(HTTPParseError(.unsupportedVersion)) }
        return .success(version)
    }
}
