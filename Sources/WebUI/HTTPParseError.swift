// Parser output: events, and the typed errors that map to a status code.

/// The reason a request was rejected, and its status. After an error the
/// connection cannot find the next message boundary, so it always closes.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: String, Hashable, Sendable {
        // 400
        case bareLineFeed, bareCarriageReturn, tooManyEmptyLines
        case malformedRequestLine, invalidMethod, invalidVersion, invalidTarget
        case obsoleteLineFolding, missingColon, invalidFieldName, whitespaceBeforeColon
        case invalidFieldValue
        case missingHost, multipleHost, invalidHost
        case invalidContentLength, multipleContentLength
        case transferEncodingWithContentLength, transferEncodingInHTTP10, invalidTransferEncoding
        case invalidChunkSize, chunkLineTooLong, invalidChunkExtension, missingChunkTerminator
        // 413
        case contentTooLarge
        // 414
        case uriTooLong
        // 417
        case unsupportedExpectation
        // 431
        case headerSectionTooLarge, tooManyHeaderFields, trailerSectionTooLarge
        // 501
        case methodTooLong, unsupportedTransferCoding
        // 505
        case unsupportedVersion
    }

    public let reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    public var status: HTTPStatus {
        switch reason {
        case .contentTooLarge: .contentTooLarge
        case .uriTooLong: .uriTooLong
        case .unsupportedExpectation: .expectationFailed
        case .headerSectionTooLarge, .tooManyHeaderFields, .trailerSectionTooLarge:
            .requestHeaderFieldsTooLarge
        case .methodTooLong, .unsupportedTransferCoding: .notImplemented
        case .unsupportedVersion: .httpVersionNotSupported
        default: .badRequest
        }
    }

    public var description: String { "\(status.code) \(reason.rawValue)" }
}

/// An output of the parser.
public enum HTTPParserEvent: Hashable, Sendable {
    /// A request's head is complete and valid; its content (if any) follows.
    /// Always followed by `.request` or `.error` for the same request.
    case head(HTTPRequestHead)
    /// A complete request.
    case request(HTTPRequest)
    /// The request is invalid; the parser produces nothing more.
    case error(HTTPParseError)
}
