import CLibSSL

/// Full or resumed handshakes against one server, timing only the server's calls.
struct HandshakeBench {
    let clientContext: OpaquePointer
    let resumed: Bool
    private var session: OpaquePointer?
    private var buffer = [UInt8](repeating: 0, count: RecordBench.recordLength)

    init(clientContext: OpaquePointer, resumed: Bool) {
        self.clientContext = clientContext
        self.resumed = resumed
    }

    /// Runs `count` handshakes and returns the server's CPU time for them.
    mutating func run(_ server: any BenchServer, count: Int) throws -> CPUTally {
        var tally = CPUTally()
        var discarded = CPUTally()
        if resumed && session == nil {
            try handshake(server, tally: &discarded)  // the first ticket comes from a full handshake
        }
        for _ in 0..<count {
            try handshake(server, tally: &tally)
            tally.count += 1
        }
        return tally
    }

    /// Forgets the ticket, so the next resumed run starts from a new full handshake.
    mutating func forgetSession() {
        if let session { SSL_SESSION_free(session) }
        session = nil
    }

    private mutating func handshake(_ server: any BenchServer, tally: inout CPUTally) throws {
        let client = try MemoryTLS(context: clientContext, server: false)
        let offered = resumed ? session : nil
        if let offered, SSL_set_session(client.ssl, offered) != 1 { throw BenchError.openSSL("SSL_set_session") }
        _ = try client.handshake()
        let hello = client.drain()

        var connection: (any BenchConnection)? = nil
        let flight = try tally.measure {
            let made = try server.makeConnection()
            connection = made
            return try made.exchange(hello)
        }
        client.push(flight)
        guard try client.handshake() else { throw BenchError("\(server.name): the client did not finish its handshake") }
        let finished = client.drain()
        let tickets = try tally.measure { try connection!.exchange(finished) }
        guard connection!.isEstablished else { throw BenchError("\(server.name): server not established") }
        if offered != nil && !(connection!.resumed && client.sessionReused) {
            throw BenchError("\(server.name): the ticket was not accepted")
        }
        tally.measure { connection = nil }  // the server's teardown counts too

        client.push(tickets)
        _ = try client.read(into: &buffer)
        if resumed {
            guard let fresh = client.session() else { throw BenchError("\(server.name): no session after the ticket") }
            forgetSession()
            session = fresh
        }
    }
}

/// Application-data records of `recordLength` bytes through an established connection.
struct RecordBench {
    /// The largest TLS plaintext record, 2^14 bytes (RFC 8446 §5.1).
    static let recordLength = 1 << 14

    let clientContext: OpaquePointer

    /// Seals and opens `count` records each way; returns (seal, open) server CPU.
    func run(_ server: any BenchServer, count: Int) throws -> (seal: CPUTally, open: CPUTally) {
        let client = try MemoryTLS(context: clientContext, server: false)
        let connection = try server.makeConnection()
        _ = try client.handshake()
        client.push(try connection.exchange(client.drain()))
        guard try client.handshake() else { throw BenchError("\(server.name): record bench handshake") }
        _ = try connection.exchange(client.drain())
        guard connection.isEstablished else { throw BenchError("\(server.name): record bench not established") }

        let payload = [UInt8](repeating: 0x5A, count: Self.recordLength)
        var seal = CPUTally()
        var open = CPUTally()
        for _ in 0..<count {
            let records = try seal.measure { try connection.seal(payload) }
            guard records.count > Self.recordLength else { throw BenchError("\(server.name): short record") }
            seal.count += 1
            try client.write(payload)
            let incoming = client.drain()
            let opened = try open.measure { try connection.open(incoming) }
            guard opened == Self.recordLength else { throw BenchError("\(server.name): opened \(opened) bytes") }
            open.count += 1
        }
        return (seal, open)
    }
}
