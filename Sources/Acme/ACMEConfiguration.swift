import CapnetBase

/// Operator settings for certificate issuance.
public struct ACMEConfiguration: Sendable {
    /// The CA's directory URL (RFC 8555 §7.1.1).
    public var directoryURL: String
    /// PEM file of the CA roots the transport trusts for the ACME server's
    /// HTTPS. The client itself never reads it; transports are built from it.
    public var caBundlePath: String?
    /// Contact URLs for the account, for example "mailto:ops@example.org".
    public var contact: [String]
    /// Whether the operator agreed to the CA's terms of service. Account
    /// creation fails with `termsOfServiceNotAgreed` when the directory
    /// lists terms and this is false (RFC 8555 §7.3).
    public var termsOfServiceAgreed: Bool
    /// Credentials for External Account Binding, when the CA requires one.
    public var externalAccountBinding: ExternalAccountBinding?
    /// The names and addresses the certificate covers.
    public var identifiers: [ACMEIdentifier]
    public var retryPolicy: ACMERetryPolicy
    public var pollPolicy: ACMEPollPolicy

    public init(directoryURL: String, caBundlePath: String? = nil, contact: [String] = [],
                termsOfServiceAgreed: Bool, externalAccountBinding: ExternalAccountBinding? = nil,
                identifiers: [ACMEIdentifier], retryPolicy: ACMERetryPolicy = .init(),
                pollPolicy: ACMEPollPolicy = .init()) {
        self.directoryURL = directoryURL
        self.caBundlePath = caBundlePath
        self.contact = contact
        self.termsOfServiceAgreed = termsOfServiceAgreed
        self.externalAccountBinding = externalAccountBinding
        self.identifiers = identifiers
        self.retryPolicy = retryPolicy
        self.pollPolicy = pollPolicy
    }
}

/// A CA-issued key identifier and MAC key (RFC 8555 §7.3.4).
public struct ExternalAccountBinding: Sendable {
    public var keyID: String
    /// The MAC key as the CA hands it out: base64url text.
    public var macKeyBase64URL: String

    public init(keyID: String, macKeyBase64URL: String) {
        self.keyID = keyID
        self.macKeyBase64URL = macKeyBase64URL
    }
}

/// Bounds on retrying one request.
public struct ACMERetryPolicy: Sendable {
    /// Attempts for a request that fails with a rate limit, a server error
    /// (HTTP 5xx, `serverInternal`) or a transport failure, first one included.
    public var maxAttempts: Int
    /// Retries after `badNonce`, each with the fresh nonce from the error
    /// response (RFC 8555 §6.5). A CA rejecting half of all nonces fails a
    /// request with the default of 16 once in 2^17 (about 8 in a million).
    public var maxBadNonceRetries: Int
    /// Backoff before retry n (from 0) is a random value in [d/2, d] with
    /// d = min(maxDelay, baseDelay * 2^n).
    public var baseDelay: Nanoseconds
    public var maxDelay: Nanoseconds
    /// A Retry-After longer than this is not waited for: the request fails
    /// with the problem document so the caller can schedule a later attempt.
    public var maxRetryAfter: Nanoseconds

    public init(maxAttempts: Int = 4, maxBadNonceRetries: Int = 16, baseDelay: Nanoseconds = .seconds(1),
                maxDelay: Nanoseconds = .seconds(30), maxRetryAfter: Nanoseconds = .seconds(300)) {
        self.maxAttempts = maxAttempts
        self.maxBadNonceRetries = maxBadNonceRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }
}

/// Bounds on polling an authorization or order (RFC 8555 §7.5.1, §7.4).
public struct ACMEPollPolicy: Sendable {
    /// Polls of one resource before giving up with `pollingExhausted`.
    public var maxPolls: Int
    /// Interval used when the server sends no Retry-After.
    public var defaultInterval: Nanoseconds
    /// Retry-After values are clamped into [minInterval, maxInterval].
    public var minInterval: Nanoseconds
    public var maxInterval: Nanoseconds

    public init(maxPolls: Int = 30, defaultInterval: Nanoseconds = .seconds(2),
                minInterval: Nanoseconds = .milliseconds(100), maxInterval: Nanoseconds = .seconds(60)) {
        self.maxPolls = maxPolls
        self.defaultInterval = defaultInterval
        self.minInterval = minInterval
        self.maxInterval = maxInterval
    }
}
