// Browser sessions created by the login form: random ids mapped to their
// expiry, at most `maximumSessions` at a time.
import CapnetBase

public struct SessionTable: Sendable {
    /// Sessions kept at once. A login beyond it ends the session closest to expiry.
    public static let defaultMaximumSessions = 32
    /// How long a session lasts after login.
    public static let defaultLifetime = Nanoseconds.seconds(12 * 3_600)

    public let maximumSessions: Int
    public let lifetime: Nanoseconds
    private var sessions: [(id: String, expires: Instant)] = []

    public init(maximumSessions: Int = SessionTable.defaultMaximumSessions,
                lifetime: Nanoseconds = SessionTable.defaultLifetime)
    {
        precondition(maximumSessions > 0, "maximumSessions must be positive")
        self.maximumSessions = maximumSessions
        self.lifetime = lifetime
    }

    public var count: Int { sessions.count }

    /// Creates a session and returns its id, ending expired sessions and,
    /// at the bound, the one closest to expiry.
    public mutating func create(now: Instant) -> String {
        removeExpired(now: now)
        if sessions.count >= maximumSessions, let oldest = sessions.indices.min(by: {
            sessions[$0].expires < sessions[$1].expires
        }) {
            sessions.remove(at: oldest)
        }
        let id = SecretBytes.randomToken()
        sessions.append((id, now + lifetime))
        return id
    }

    /// Checks whether `id` names a live session. Every stored id is compared in
    /// constant time, so timing does not depend on which one matched.
    public func isValid(_ id: String, now: Instant) -> Bool {
        var found = false
        for session in sessions where SecretBytes.constantTimeEquals(session.id, id) && now < session.expires {
            found = true
        }
        return found
    }

    /// Ends the session `id`; unknown ids are ignored.
    public mutating func remove(_ id: String) {
        sessions.removeAll { SecretBytes.constantTimeEquals($0.id, id) }
    }

    public mutating func removeExpired(now: Instant) {
        sessions.removeAll { now >= $0.expires }
    }
}
