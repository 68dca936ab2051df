/// An ACME error type URN (RFC 8555 §6.7). Unknown values are kept.
public struct ACMEProblemType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The namespace every ACME error type lives in (RFC 8555 §9.7.4).
    public static let namespace = "urn:ietf:params:acme:error:"

    public static let accountDoesNotExist = Self(rawValue: namespace + "accountDoesNotExist")
    public static let badNonce = Self(rawValue: namespace + "badNonce")
    public static let badCSR = Self(rawValue: namespace + "badCSR")
    public static let connection = Self(rawValue: namespace + "connection")
    public static let externalAccountRequired = Self(rawValue: namespace + "externalAccountRequired")
    public static let incorrectResponse = Self(rawValue: namespace + "incorrectResponse")
    public static let malformed = Self(rawValue: namespace + "malformed")
    public static let orderNotReady = Self(rawValue: namespace + "orderNotReady")
    public static let rateLimited = Self(rawValue: namespace + "rateLimited")
    public static let rejectedIdentifier = Self(rawValue: namespace + "rejectedIdentifier")
    public static let serverInternal = Self(rawValue: namespace + "serverInternal")
    public static let unauthorized = Self(rawValue: namespace + "unauthorized")
    public static let userActionRequired = Self(rawValue: namespace + "userActionRequired")

    public var description: String { rawValue }
}

/// A problem document (RFC 7807 §3.1) with the ACME additions of
/// RFC 8555 §6.7.1 (`subproblems`, each naming an `identifier`).
public struct ACMEProblem: Equatable, Sendable, Decodable, CustomStringConvertible {
    public var type: ACMEProblemType
    public var detail: String?
    public var status: Int?
    public var identifier: ACMEIdentifier?
    public var subproblems: [ACMEProblem]?

    public init(type: ACMEProblemType, detail: String? = nil, status: Int? = nil,
                identifier: ACMEIdentifier? = nil, subproblems: [ACMEProblem]? = nil) {
        self.type = type
        self.detail = detail
        self.status = status
        self.identifier = identifier
        self.subproblems = subproblems
    }

    enum CodingKeys: String, CodingKey { case type, detail, status, identifier, subproblems }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // RFC 7807 §4.2: a missing type means "about:blank".
        let type = try container.decodeIfPresent(String.self, forKey: .type) ?? "about:blank"
        self.type = ACMEProblemType(rawValue: type)
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
        status = try container.decodeIfPresent(Int.self, forKey: .status)
        identifier = try container.decodeIfPresent(ACMEIdentifier.self, forKey: .identifier)
        subproblems = try container.decodeIfPresent([ACMEProblem].self, forKey: .subproblems)
    }

    public var description: String {
        var text = type.rawValue
        if let status { text += " (HTTP \(status))" }
        if let detail { text += ": " + detail }
        for subproblem in subproblems ?? [] {
            let name = subproblem.identifier.map { " for \($0.value)" } ?? ""
            text += "; \(subproblem.type.rawValue)\(name): \(subproblem.detail ?? "no detail")"
        }
        return text
    }
}

/// Errors the ACME client reports. Each names the failed step and the value.
public enum ACMEError: Error, Equatable, CustomStringConvertible {
    /// The server answered with a problem document.
    case problem(ACMEProblem, url: String)
    /// A libcrypto call failed.
    case cryptoFailed(operation: String, detail: String)
    /// The transport could not complete the request.
    case transportFailed(url: String, detail: String)
    /// The server's TLS certificate failed verification against the trusted
    /// roots. Not retried: the configuration must change.
    case serverCertificateRejected(url: String, detail: String)
    /// A response was not what RFC 8555 requires (missing header, bad JSON).
    case invalidResponse(url: String, detail: String)
    /// Retrying a request did not succeed within its attempt budget.
    case retriesExhausted(url: String, attempts: Int, lastError: String)
    /// An order or authorization kept a pending status for too many polls.
    case pollingExhausted(url: String, status: String, polls: Int)
    /// An authorization ended invalid; `problem` is the challenge's error.
    case authorizationFailed(identifier: String, problem: ACMEProblem?)
    /// The order ended invalid.
    case orderFailed(url: String, problem: ACMEProblem?)
    /// The directory has terms of service that the configuration does not accept.
    case termsOfServiceNotAgreed(url: String)
    /// The server offers no challenge type this client can answer.
    case noSupportedChallenge(identifier: String)
    /// The configuration is unusable.
    case invalidConfiguration(String)
    /// Reading or writing the state directory failed.
    case stateStoreFailed(path: String, detail: String)
    /// The issued chain failed the checks of `ACMEChainVerifier`; it is not used.
    case invalidCertificate(String)

    public var description: String {
        switch self {
        case let .problem(problem, url): "ACME request to \(url) failed: \(problem)"
        case let .cryptoFailed(operation, detail): "\(operation) failed: \(detail)"
        case let .transportFailed(url, detail): "request to \(url) failed: \(detail)"
        case let .serverCertificateRejected(url, detail): "request to \(url) failed: \(detail)"
        case let .invalidResponse(url, detail): "invalid response from \(url): \(detail)"
        case let .retriesExhausted(url, attempts, lastError):
            "request to \(url) failed after \(attempts) attempts: \(lastError)"
        case let .pollingExhausted(url, status, polls):
            "\(url) still \(status) after \(polls) polls; retry later"
        case let .authorizationFailed(identifier, problem):
            "authorization for \(identifier) is invalid: \(problem.map(String.init(describing:)) ?? "no error given")"
        case let .orderFailed(url, problem):
            "order \(url) is invalid: \(problem.map(String.init(describing:)) ?? "no error given")"
        case let .termsOfServiceNotAgreed(url):
            "the CA requires agreement to its terms of service at \(url); read them, then agree with --acme-agree-tos (termsOfServiceAgreed)"
        case let .noSupportedChallenge(identifier):
            "no http-01 challenge offered for \(identifier)"
        case let .invalidConfiguration(detail): "invalid ACME configuration: \(detail)"
        case let .stateStoreFailed(path, detail): "ACME state file \(path): \(detail)"
        case let .invalidCertificate(detail): "issued certificate rejected: \(detail)"
        }
    }
}
