/// Placeholder for stateless session tickets (RFC 8446 §4.6.1, RFC 5077 §4 style).
// TODO: seal tickets with rotating AEAD keys and resume with psk_dhe_ke.
public final class SessionTicketKeys: Sendable {
    public init() {}
}
