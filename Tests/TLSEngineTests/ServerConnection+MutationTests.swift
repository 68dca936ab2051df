import CapnetBase
import Testing
@testable import TLSEngine

/// Seeded mutations of real handshake input: the server must never trap,
/// and every rejection must come with the alert the error maps to.
@Suite("Server connection under mutated input")
struct ServerConnectionMutationTests {
    /// Mutated inputs per test; bounded so the suite stays fast.
    static let iterations = 400

    static func mutate(_ input: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var bytes = input
        let edits = Int.random(in: 1...4, using: &random)
        for _ in 0..<edits {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: // flip a bit
                let index = Int.random(in: 0..<bytes.count, using: &random)
                bytes[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            case 1: // set a byte to an edge value
                let index = Int.random(in: 0..<bytes.count, using: &random)
                bytes[index] = [0x00, 0x01, 0x7F, 0x80, 0xFF].randomElement(using: &random)!
            case 2: // truncate
                bytes.removeLast(Int.random(in: 0..<min(bytes.count, 16), using: &random))
            default: // duplicate a slice
                let start = Int.random(in: 0..<bytes.count, using: &random)
                let end = min(bytes.count, start + Int.random(in: 1...8, using: &random))
                bytes.insert(contentsOf: bytes[start..<end], at: start)
            }
            if bytes.isEmpty { bytes = [0] }
        }
        return bytes
    }

    @Test func mutatedClientHelloNeverTraps() throws {
        var random = SeededRandom(seed: 8446)
        let client = ScriptedClient()
        client.serverName = "localhost"
        client.alpn = ["http/1.1"]
        let record = ScriptedClient.plaintextRecord(.handshake, try client.clientHello())
        var failures = 0
        for _ in 0..<Self.iterations {
            let server = TLSServerConnection(configuration: ServerFixture.configuration())
            let events = server.receive(Self.mutate(record, &random))
            for case .failed(let error) in events {
                failures += 1
                // Before the server flight the alert is the only, unprotected, record; after it
                // (bytes mutated past the ClientHello) it is protected behind the flight.
                let output = server.takeOutput()
                guard let alert = error.alert else { continue }
                if output.first == ContentType.alert.rawValue {
                    #expect(output == [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, alert.rawValue])
                } else {
                    #expect(output.count > 7)
                }
            }
        }
        // Most mutations break the hello; a few land in ignored fields.
        #expect(failures > Self.iterations / 4)
    }

    @Test func mutatedProtectedRecordsNeverTrap() throws {
        var random = SeededRandom(seed: 5246)
        for _ in 0..<Self.iterations / 4 {
            let (server, client) = try ServerConnectionScriptedTests.established()
            let record = try client.protectedRecords(.applicationData, Array("GET / HTTP/1.1\r\n\r\n".utf8))
            let events = server.receive(Self.mutate(record, &random))
            for case .failed(let error) in events {
                #expect(error.alert != nil)
            }
        }
    }

    @Test func oversizedHandshakeMessageIsRejectedEarly() {
        let server = TLSServerConnection(configuration: ServerFixture.configuration())
        // A ClientHello header announcing 2^16 + 1 bytes: rejected before buffering them.
        let header: [UInt8] = [0x01, 0x01, 0x00, 0x01]
        let events = server.receive(ScriptedClient.plaintextRecord(.handshake, header))
        #expect(ServerConnectionScriptedTests.failure(events)?.alert == .decodeError)
    }
}
