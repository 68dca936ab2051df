/// Why one connection failed, grouped by the kinds the report counts.
struct LoadFailure: Error, Hashable, Sendable, CustomStringConvertible {
    enum Kind: String, CaseIterable, Sendable, Codable {
        /// The server host answered the TCP SYN with a reset (ECONNREFUSED).
        case connectRefused = "connect_refused"
        /// The connection did not finish within `--timeout`.
        case timeout
        /// The server sent a TLS alert (RFC 8446 section 6); the detail is
        /// the alert's description.
        case alertReceived = "alert_received"
        /// The server's certificate chain or name failed verification.
        case verifyFailed = "verify_failed"
        /// Anything else: resets, early closes, HTTP errors, local limits.
        case other

        /// The kind as the text report prints it.
        var label: String {
            switch self {
            case .connectRefused: "connect refused"
            case .timeout: "timeout"
            case .alertReceived: "alert received"
            case .verifyFailed: "verify failed"
            case .other: "other"
            }
        }
    }

    let kind: Kind
    /// A short explanation in plain words, such as the alert description.
    let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    var description: String { "\(kind.label): \(detail)" }
}
