import CapnetBase
import Synchronization

/// The resumption state a ticket carries, sealed so only this server reads it.
struct TicketState: Equatable {
    var cipherSuite: CipherSuite
    var resumptionPSK: [UInt8]
    var ticketAgeAdd: UInt32
    /// When the ticket was issued, on the ticket keys' clock.
    var issuedAt: Instant
    var lifetimeSeconds: UInt32
    var applicationProtocol: String?

    /// Format version of the sealed state; bump when the layout changes.
    static let formatVersion: UInt8 = 1

    func encode() -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        writer.writeUInt8(Self.formatVersion)
        writer.writeUInt16(cipherSuite.rawValue)
        writer.writeOpaque(prefixBytes: 1, resumptionPSK)
        writer.writeUInt32(ticketAgeAdd)
        writer.writeUInt32(UInt32(truncatingIfNeeded: UInt64(bitPattern: issuedAt.nanoseconds) >> 32))
        writer.writeUInt32(UInt32(truncatingIfNeeded: UInt64(bitPattern: issuedAt.nanoseconds)))
        writer.writeUInt32(lifetimeSeconds)
        writer.writeOpaque(prefixBytes: 1, Array((applicationProtocol ?? "").utf8))
        return writer.bytes
    }

    init(cipherSuite: CipherSuite, resumptionPSK: [UInt8], ticketAgeAdd: UInt32, issuedAt: Instant,
         lifetimeSeconds: UInt32, applicationProtocol: String?) {
        self.cipherSuite = cipherSuite
        self.resumptionPSK = resumptionPSK
        self.ticketAgeAdd = ticketAgeAdd
        self.issuedAt = issuedAt
        self.lifetimeSeconds = lifetimeSeconds
        self.applicationProtocol = applicationProtocol
    }

    init(decoding bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8("ticket format") == Self.formatVersion else {
            throw TLSError(.illegalParameter, "ticket format version unknown")
        }
        cipherSuite = CipherSuite(rawValue: try reader.readUInt16("ticket suite"))
        resumptionPSK = try reader.readOpaque(prefixBytes: 1, lengths: 32...64, "ticket psk")
        ticketAgeAdd = try reader.readUInt32("ticket age add")
        let high = UInt64(try reader.readUInt32("ticket issued"))
        let low = UInt64(try reader.readUInt32("ticket issued"))
        issuedAt = Instant(nanoseconds: Int64(bitPattern: high << 32 | low))
        lifetimeSeconds = try reader.readUInt32("ticket lifetime")
        let protocolName = try reader.readOpaque(prefixBytes: 1, lengths: 0...255, "ticket alpn")
        applicationProtocol = protocolName.isEmpty ? nil : String(decoding: protocolName, as: UTF8.self)
        try reader.finish("ticket state")
    }
}

/// Keys that seal stateless session tickets (RFC 8446 §4.6.1), rotated on a
/// schedule: a ticket sealed under the current or the previous key opens,
/// anything older does not, so a ticket lives at most two rotation intervals.
///
/// A ticket is `key_id (4) || nonce (12) || AES-256-GCM(state) || tag (16)`.
/// Keys live only in memory: a restart invalidates every ticket. The clock
/// must be safe to read from any thread, as `MonotonicTimeSource` is.
public final class SessionTicketKeys: @unchecked Sendable {
    /// The `ticket_lifetime` sent to clients, at most 7 days (RFC 8446 §4.6.1).
    public let ticketLifetimeSeconds: UInt32
    /// How often a new sealing key replaces the current one.
    public let rotationInterval: Nanoseconds
    private let clock: any TimeSource

    private struct Key {
        var id: UInt32
        var secret: [UInt8]
        var createdAt: Instant
    }

    private struct State {
        var current: Key
        var previous: Key?
    }

    private let state: Mutex<State>
    private let provider: CryptoProvider

    static let keyIDLength = 4
    static let aead = AEADAlgorithm.aes256GCM
    /// The maximum lifetime RFC 8446 §4.6.1 allows: 604800 seconds (7 days).
    public static let maxLifetimeSeconds: UInt32 = 604_800

    public init(clock: any TimeSource, ticketLifetimeSeconds: UInt32 = 7200,
                rotationInterval: Nanoseconds = .seconds(3600), provider: CryptoProvider = .shared) {
        self.clock = clock
        self.ticketLifetimeSeconds = min(ticketLifetimeSeconds, Self.maxLifetimeSeconds)
        self.rotationInterval = rotationInterval
        self.provider = provider
        state = Mutex(State(current: Self.makeKey(provider: provider, now: clock.now()), previous: nil))
    }

    private static func makeKey(provider: CryptoProvider, now: Instant) -> Key {
        let idBytes = provider.randomBytes(keyIDLength)
        let id = idBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Key(id: id, secret: provider.randomBytes(aead.keyLength), createdAt: now)
    }

    var now: Instant { clock.now() }

    /// Replaces the current key now; the old one still opens tickets until the next rotation.
    public func rotate() {
        let fresh = Self.makeKey(provider: provider, now: clock.now())
        state.withLock { state in
            state.previous = state.current
            state.current = fresh
        }
    }

    func seal(_ ticket: TicketState) throws -> [UInt8] {
        let now = clock.now()
        if state.withLock({ now - $0.current.createdAt }) >= rotationInterval { rotate() }
        let key = state.withLock { $0.current }
        let nonce = provider.randomBytes(Self.aead.nonceLength)
        var header: [UInt8] = []
        for shift in stride(from: 24, through: 0, by: -8) { header.append(UInt8((key.id >> UInt32(shift)) & 0xFF)) }
        header += nonce
        let sealer = try provider.makeAEAD(Self.aead, key: key.secret, sealing: true)
        return header + sealer.seal(nonce: nonce, additionalData: header, plaintext: ticket.encode())
    }

    /// Opens a ticket; `nil` for tickets from another server, an expired key, or tampering.
    func open(_ ticket: [UInt8]) -> TicketState? {
        let headerLength = Self.keyIDLength + Self.aead.nonceLength
        guard ticket.count > headerLength + Self.aead.tagLength else { return nil }
        let id = ticket[0..<Self.keyIDLength].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let candidates = state.withLock { [$0.current, $0.previous].compactMap { $0 } }
        guard let key = candidates.first(where: { $0.id == id }),
              let opener = try? provider.makeAEAD(Self.aead, key: key.secret, sealing: false) else { return nil }
        let header = Array(ticket[0..<headerLength])
        let nonce = Array(ticket[Self.keyIDLength..<headerLength])
        guard let plaintext = opener.open(nonce: nonce, additionalData: header,
                                          ciphertext: Array(ticket[headerLength...])) else { return nil }
        return try? TicketState(decoding: plaintext)
    }
}
