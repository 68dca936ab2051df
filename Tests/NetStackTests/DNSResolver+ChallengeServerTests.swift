import CapnetBase
import Foundation
import Testing
@testable import NetStack

/// Our query and parser against a real DNS server: pebble-challtestsrv on
/// 127.0.0.1, which answers A queries from records added through its
/// management API and with 192.0.2.2 (`-defaultIPv4`) for any other name.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/pebble-challtestsrv"),
                             "needs pebble-challtestsrv"))
struct DNSChallengeServerTests {
    /// Sends our query for `name` with `id` over a kernel UDP socket and returns the parsed answer.
    func lookUp(_ name: String, id: UInt16, port: UInt16) throws -> DNSAnswer {
        let parsed = try DNSName(name)
        let response = try exchangeOverLoopbackUDP(DNSMessage.encodeQuery(id: id, name: parsed), port: port)
        let message = try DNSMessage.parse(response)
        try message.checkResponse(toQueryWithID: id, name: parsed)
        return try message.answer(for: parsed, server: IPv4Endpoint(address: IPv4Address(127, 0, 0, 1), port: port))
    }

    @Test func addedRecordResolves() throws {
        let server = try ChallengeTestServer()
        defer { server.stop() }
        try server.addA(host: "capnet.test.", addresses: ["198.51.100.7"])

        let answer = try lookUp("capnet.test", id: 0x2a2a, port: server.dnsPort)
        #expect(answer.addresses == [IPv4Address(198, 51, 100, 7)])
        #expect(answer.canonicalName == (try DNSName("capnet.test")))
    }

    @Test func severalAddressesResolve() throws {
        let server = try ChallengeTestServer()
        defer { server.stop() }
        try server.addA(host: "multi.capnet.test.", addresses: ["198.51.100.7", "198.51.100.8"])

        let answer = try lookUp("multi.capnet.test.", id: 0x0102, port: server.dnsPort)
        #expect(Set(answer.addresses) == [IPv4Address(198, 51, 100, 7), IPv4Address(198, 51, 100, 8)])
    }

    @Test func unknownNameGetsDefaultAddress() throws {
        let server = try ChallengeTestServer()
        defer { server.stop() }

        let answer = try lookUp("unknown.capnet.test", id: 0xfffe, port: server.dnsPort)
        #expect(answer.addresses == [IPv4Address(192, 0, 2, 2)])
    }

    @Test func echoOfMixedCaseQueryAccepted() throws {
        let server = try ChallengeTestServer()
        defer { server.stop() }

        // The server echoes the question as sent; our check compares it without regard to case.
        let name = try DNSName("Capnet.TEST")
        let response = try exchangeOverLoopbackUDP(DNSMessage.encodeQuery(id: 0x5151, name: name), port: server.dnsPort)
        let message = try DNSMessage.parse(response)
        #expect(message.questions.first?.name.description == "Capnet.TEST")
        try message.checkResponse(toQueryWithID: 0x5151, name: try DNSName("capnet.test"))
    }
}
