// Field lines (RFC 9112 §5) and the checks on a complete head: Host,
// framing (RFC 9112 §6), Expect and persistence.

extension HTTPRequestParser {
    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    static func parseFieldLine(_ line: ArraySlice<UInt8>) -> Result<HTTPField, HTTPParseError> {
        // A line starting with whitespace is obs-fold, or whitespace before
        // the first field (RFC 9112 §2.2, §5.2): rejected either way.
        if let first = line.first, ASCII.isWhitespace(first) {
            return .failure(HTTPParseError(.obsoleteLineFolding))
        }
        guard let colon = line.firstIndex(of: ASCII.colon) else {
            return .failure(HTTPParseError(.missingColon))
        }
        let name = line[line.startIndex..<colon]
        guard let last = name.last else { return .failure(HTTPParseError(.invalidFieldName)) }
        if ASCII.isWhitespace(last) { return .failure(HTTPParseError(.whitespaceBeforeColon)) }
        guard name.allSatisfy(ASCII.isTchar) else { return .failure(HTTPParseError(.invalidFieldName)) }
        var start = colon + 1, end = line.endIndex
        while start < end, ASCII.isWhitespace(line[start]) { start += 1 }
        while end > start, ASCII.isWhitespace(line[end - 1]) { end -= 1 }
        let value = line[start..<end]
        // field-vchar = VCHAR / obs-text, with SP and HTAB between
        // (RFC 9110 §5.5). CR, LF, NUL and other controls are rejected.
        for b in value where !(b == ASCII.sp || b == ASCII.htab || (b >= 0x21 && b != 0x7F)) {
            return .failure(HTTPParseError(.invalidFieldValue))
        }
        return .success(HTTPField(name: String(decoding: name, as: UTF8.self), value: ASCII.string(value)))
    }

    /// Checks the head as a whole: Host, framing, expectations, persistence.
    static func validateHead(_ line: RequestLine, fields: [HTTPField],
                             limits: HTTPParserLimits) -> Result<HTTPRequestHead, HTTPParseError> {
        let headers = HTTPHeaders(fields)
        let version = line.version

        // Host (RFC 9112 §3.2): required in HTTP/1.1, never more than one,
        // and syntactically valid.
        let hosts = headers.values(for: "Host")
        if hosts.count > 1 { return .failure(HTTPParseError(.multipleHost)) }
        if let host = hosts.first {
            guard TargetSyntax.isAuthority(ArraySlice(host.utf8), requirePort: false) else {
                return .failure(HTTPParseError(.invalidHost))
            }
        } else if version >= .http1_1 {
            return .failure(HTTPParseError(.missingHost))
        }

        // Framing (RFC 9112 §6.1, §6.3).
        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        var framing = BodyFraming.none
        if !transferEncodings.isEmpty {
            if !contentLengths.isEmpty { return .failure(HTTPParseError(.transferEncodingWithContentLength)) }
            if version < .http1_1 { return .failure(HTTPParseError(.transferEncodingInHTTP10)) }
            switch Self.parseTransferCodings(transferEncodings) {
            case .failure(let error): return .failure(error)
            case .success: framing = .chunked
            }
        } else if !contentLengths.isEmpty {
            // RFC 9110 §8.6 lets a recipient accept repeated identical values;
            // this server rejects any repetition or list.
            if contentLengths.count > 1 { return .failure(HTTPParseError(.multipleContentLength)) }
            let value = contentLengths[0].utf8
            if value.contains(UInt8(ascii: ",")) { return .failure(HTTPParseError(.multipleContentLength)) }
            guard !value.isEmpty, value.allSatisfy(ASCII.isDigit) else {
                return .failure(HTTPParseError(.invalidContentLength))
            }
            var length = 0
            for digit in value {
                length = length * 10 + Int(digit - 0x30)
                if length > limits.maxBodySize { return .failure(HTTPParseError(.contentTooLarge)) }
            }
            framing = .contentLength(length)
        }

        // Expect (RFC 9110 §10.1.1): only 100-continue is known; HTTP/1.0
        // requests have their expectation ignored.
        var expectsContinue = false
        let expectations = headers.listValues(for: "Expect")
        if version >= .http1_1 && !headers.values(for: "Expect").isEmpty {
            guard !expectations.isEmpty,
                  expectations.allSatisfy({ ASCII.caseInsensitiveEquals($0, "100-continue") })
            else { return .failure(HTTPParseError(.unsupportedExpectation)) }
            expectsContinue = framing.announcesContent
        }

        // Persistence (RFC 9112 §9.3).
        let keepAlive: Bool
        if headers.containsToken("close", in: "Connection") {
            keepAlive = false
        } else if version >= .http1_1 {
            keepAlive = true
        } else {
            keepAlive = headers.containsToken("keep-alive", in: "Connection")
        }

        return .success(HTTPRequestHead(method: line.method, target: line.target, rawTarget: line.rawTarget,
                                        version: version, headers: headers, framing: framing,
                                        keepAlive: keepAlive, expectsContinue: expectsContinue))
    }

    /// Transfer-Encoding (RFC 9112 §6.1): a list of transfer codings whose
    /// last is chunked. Only chunked is implemented; any other coding gives
    /// 501, chunked twice or not last gives 400.
    static func parseTransferCodings(_ values: [String]) -> Result<Void, HTTPParseError> {
        var codings: [String] = []
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let item = ASCII.trimmingOWS(element)
                if item.isEmpty { continue }
                // transfer-coding = token *( OWS ";" OWS transfer-parameter )
                let name = ASCII.trimmingOWS(item.split(separator: ";", maxSplits: 1,
                                                        omittingEmptySubsequences: false)[0])
                guard !name.isEmpty, name.utf8.allSatisfy(ASCII.isTchar) else {
                    return .failure(HTTPParseError(.invalidTransferEncoding))
                }
                codings.append(name.lowercased())
            }
        }
        guard !codings.isEmpty else { return .failure(HTTPParseError(.invalidTransferEncoding)) }
        if codings.contains(where: { $0 != "chunked" }) {
            return .failure(HTTPParseError(.unsupportedTransferCoding))
        }
        guard codings.count == 1 else { return .failure(HTTPParseError(.invalidTransferEncoding)) }
        return .success(())
    }
}
