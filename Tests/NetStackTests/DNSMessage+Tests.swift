import CapnetBase
import Testing
@testable import NetStack

/// DNS messages built by scapy 2.5.0. Messages that scapy cannot build
/// (compression loops, out-of-range pointers) start from a scapy message and
/// splice in the octets named beside them. The answer name of `aBase` starts
/// at offset 29: 12 octets of header, 13 of QNAME "capnet.test", 4 of QTYPE
/// and QCLASS, and it is 13 octets long.
enum DNSVectors {
    static let all: [String: [UInt8]] = {
        do {
            return try Scapy.build("""
            V["query"] = DNS(id=0x1234, rd=1, qd=DNSQR(qname="capnet.test", qtype="A", qclass="IN"))
            V["queryMixedCase"] = DNS(id=0xbeef, rd=1, qd=DNSQR(qname="_acme-challenge.Example.ORG.", qtype="A", qclass="IN"))
            V["aAnswer"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=300, rdata="198.51.100.7") / DNSRR(rrname="capnet.test", type="A", ttl=120, rdata="198.51.100.9"))
            V["aAnswerUpperCase"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="CAPNET.Test"), an=DNSRR(rrname="Capnet.TEST", type="A", ttl=300, rdata="198.51.100.7"))
            V["aAnswerLongTTL"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=86400, rdata="198.51.100.7"))
            V["aAnswerTopBitTTL"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=0x80000000, rdata="198.51.100.7"))
            V["cnameChain"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="www.capnet.test"), an=DNSRR(rrname="www.capnet.test", type="CNAME", ttl=600, rdata="mid.capnet.test") / DNSRR(rrname="mid.capnet.test", type="CNAME", ttl=500, rdata="edge.capnet.test") / DNSRR(rrname="edge.capnet.test", type="A", ttl=60, rdata="198.51.100.8") / DNSRR(rrname="other.capnet.test", type="A", ttl=5, rdata="203.0.113.1")).compress()
            V["cnameLoop"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="a.capnet.test"), an=DNSRR(rrname="a.capnet.test", type="CNAME", ttl=60, rdata="b.capnet.test") / DNSRR(rrname="b.capnet.test", type="CNAME", ttl=60, rdata="a.capnet.test")).compress()
            V["nxdomain"] = DNS(id=0x1234, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname="capnet.test"))
            V["servfail"] = DNS(id=0x1234, qr=1, rd=1, ra=1, rcode=2, qd=DNSQR(qname="capnet.test"))
            V["refused"] = DNS(id=0x1234, qr=1, rd=1, ra=0, rcode=5, qd=DNSQR(qname="capnet.test"))
            V["notimp"] = DNS(id=0x1234, qr=1, rd=1, ra=1, rcode=4, qd=DNSQR(qname="capnet.test"))
            V["noData"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="AAAA", ttl=300, rdata="2001:db8::7"))
            V["truncatedFlag"] = DNS(id=0x1234, qr=1, tc=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=300, rdata="198.51.100.7"))
            V["wrongID"] = DNS(id=0x4321, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=300, rdata="198.51.100.7"))
            V["wrongName"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="other.test"), an=DNSRR(rrname="other.test", type="A", ttl=300, rdata="198.51.100.7"))
            V["wrongType"] = DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test", qtype="AAAA"))
            V["notResponse"] = DNS(id=0x1234, qr=0, rd=1, qd=DNSQR(qname="capnet.test"))
            V["aBadLength"] = raw(DNS(id=0x1234, qr=1, rd=1, ra=1, qd=DNSQR(qname="capnet.test"), an=DNSRR(rrname="capnet.test", type="A", ttl=300, rdlen=5, rdata="198.51.100.7"))) + b"\\x00"
            aBase = raw(V["aAnswerLongTTL"])
            V["aBase"] = aBase
            V["pointerLoop"] = aBase[:29] + b"\\xc0\\x1d" + aBase[42:]
            V["labelPointerLoop"] = aBase[:29] + b"\\x01a\\xc0\\x1d" + aBase[42:]
            V["pointerOutOfRange"] = aBase[:29] + b"\\xc3\\xff" + aBase[42:]
            V["reservedLabelType"] = aBase[:29] + b"\\x41" + aBase[30:]
            V["cut"] = aBase[:-2]
            """)
        } catch {
            Issue.record("scapy failed: \(error)")
            return [:]
        }
    }()

    static func vector(_ name: String) throws -> [UInt8] {
        try #require(all[name], "scapy vector \(name) is missing")
    }
}

@Suite struct DNSMessageWireTests {
    static let server = IPv4Endpoint(address: IPv4Address(192, 0, 2, 1), port: 53)
    static let capnet = try! DNSName("capnet.test")

    /// Parses `vector` and runs the echo check and answer extraction for capnet.test with ID 0x1234.
    func answer(_ vector: String, name: DNSName = capnet) throws -> Result<DNSAnswer, DNSError> {
        let message = try DNSMessage.parse(try DNSVectors.vector(vector))
        try message.checkResponse(toQueryWithID: 0x1234, name: name)
        return Result { () throws(DNSError) in try message.answer(for: name, server: Self.server) }
    }

    @Test func queryMatchesScapy() throws {
        #expect(hex(DNSMessage.encodeQuery(id: 0x1234, name: try DNSName("capnet.test"))) == hex(try DNSVectors.vector("query")))
    }

    @Test func queryMixedCaseMatchesScapy() throws {
        let name = try DNSName("_acme-challenge.Example.ORG.")
        #expect(hex(DNSMessage.encodeQuery(id: 0xbeef, name: name)) == hex(try DNSVectors.vector("queryMixedCase")))
    }

    @Test func queryParsesAsQuestion() throws {
        let message = try DNSMessage.parse(try DNSVectors.vector("query"))
        #expect(message.header.id == 0x1234)
        #expect(!message.header.isResponse)
        #expect(message.header.recursionDesired)
        #expect(message.questions == [DNSQuestion(name: Self.capnet)])
    }

    @Test func aAnswerGivesAddressesAndMinimumTTL() throws {
        let result = try answer("aAnswer").get()
        #expect(result.addresses == [IPv4Address(198, 51, 100, 7), IPv4Address(198, 51, 100, 9)])
        #expect(result.timeToLive == 120)
        #expect(result.canonicalName == Self.capnet)
    }

    @Test func aAnswerHeaderFields() throws {
        let header = try DNSMessage.parse(try DNSVectors.vector("aAnswer")).header
        #expect(header.isResponse)
        #expect(header.opcode == 0)
        #expect(header.recursionDesired)
        #expect(header.recursionAvailable)
        #expect(!header.isTruncated)
        #expect(header.responseCode == .noError)
        #expect(header.answerCount == 2)
    }

    @Test func echoMatchesWithoutRegardToCase() throws {
        let result = try answer("aAnswerUpperCase").get()
        #expect(result.addresses == [IPv4Address(198, 51, 100, 7)])
    }

    @Test func ttlWithTopBitReadsAsZero() throws {
        #expect(try answer("aAnswerTopBitTTL").get().timeToLive == 0)
    }

    @Test func cnameChainFollowedThroughPointers() throws {
        let bytes = try DNSVectors.vector("cnameChain")
        // scapy's compress() replaced repeated suffixes with pointers into the question (0xc00c and later).
        #expect(hex(bytes).contains("c00c"))
        let name = try DNSName("WWW.capnet.test")
        let message = try DNSMessage.parse(bytes)
        try message.checkResponse(toQueryWithID: 0x1234, name: name)
        let result = try message.answer(for: name, server: Self.server)
        #expect(result.addresses == [IPv4Address(198, 51, 100, 8)])
        #expect(result.timeToLive == 60)
        #expect(result.canonicalName == (try DNSName("edge.capnet.test")))
        #expect(message.answers.map(\.name.description) == ["www.capnet.test", "mid.capnet.test", "edge.capnet.test", "other.capnet.test"])
    }

    @Test func cnameLoopRejected() throws {
        let name = try DNSName("a.capnet.test")
        let message = try DNSMessage.parse(try DNSVectors.vector("cnameLoop"))
        #expect(throws: DNSError.cnameChainTooLong(name, limit: DNSMessage.maximumCNAMEChainLength)) {
            try message.answer(for: name, server: Self.server)
        }
    }

    @Test func responseCodesNamed() throws {
        #expect(try answer("nxdomain") == .failure(.nameNotFound(Self.capnet, server: Self.server)))
        #expect(try answer("servfail") == .failure(.serverFailure(Self.capnet, server: Self.server)))
        #expect(try answer("refused") == .failure(.refused(Self.capnet, server: Self.server)))
        #expect(try answer("notimp") == .failure(.errorResponse(Self.capnet, server: Self.server, code: .notImplemented)))
        #expect(try answer("noData") == .failure(.noAddresses(Self.capnet, server: Self.server)))
    }

    @Test func truncatedFlagReported() throws {
        let message = try DNSMessage.parse(try DNSVectors.vector("truncatedFlag"))
        #expect(message.header.isTruncated)
        #expect(try answer("truncatedFlag") == .failure(.truncatedResponse(Self.capnet, server: Self.server)))
    }

    @Test func mismatchedResponsesRejected() throws {
        let other = try DNSName("other.test")
        #expect(throws: DNSWireError.idMismatch(expected: 0x1234, received: 0x4321)) { try answer("wrongID") }
        #expect(throws: DNSWireError.questionMismatch(expected: Self.capnet, received: other,
                                                      type: .a, class: .internet)) { try answer("wrongName") }
        #expect(throws: DNSWireError.questionMismatch(expected: Self.capnet, received: Self.capnet,
                                                      type: .aaaa, class: .internet)) { try answer("wrongType") }
        #expect(throws: DNSWireError.notAResponse) { try answer("notResponse") }
    }

    @Test func pointerToItselfRejectedAsLoop() throws {
        let bytes = try DNSVectors.vector("pointerLoop")
        #expect(throws: DNSWireError.pointerLoop(offset: 29, jumps: DNSMessage.maximumCompressionPointers)) {
            try DNSMessage.parse(bytes)
        }
    }

    @Test func labelPointerLoopRejectedByLength() throws {
        let bytes = try DNSVectors.vector("labelPointerLoop")
        #expect(throws: DNSWireError.nameTooLong(offset: 29)) { try DNSMessage.parse(bytes) }
    }

    @Test func pointerOutOfRangeRejected() throws {
        let bytes = try DNSVectors.vector("pointerOutOfRange")
        #expect(throws: DNSWireError.pointerOutOfRange(offset: 29, target: 0x3ff, length: bytes.count)) {
            try DNSMessage.parse(bytes)
        }
    }

    @Test func reservedLabelTypeRejected() throws {
        let bytes = try DNSVectors.vector("reservedLabelType")
        #expect(throws: DNSWireError.reservedLabelType(offset: 29, octet: 0x41)) { try DNSMessage.parse(bytes) }
    }

    @Test func aRecordWithBadLengthRejected() throws {
        let bytes = try DNSVectors.vector("aBadLength")
        #expect(throws: DNSWireError.badRecordLength(offset: 52, type: .a, length: 5)) { try DNSMessage.parse(bytes) }
    }

    @Test func cutMessageRejected() throws {
        let bytes = try DNSVectors.vector("cut")
        // The A record's RDATA starts at offset 52 and needs 4 octets.
        #expect(throws: DNSWireError.truncated(offset: 52, needed: 4, length: bytes.count)) { try DNSMessage.parse(bytes) }
    }

    @Test func everyPrefixOfAResponseRejectedOrParsed() throws {
        let bytes = try DNSVectors.vector("cnameChain")
        for length in 0..<bytes.count {
            #expect(throws: DNSWireError.self) { try DNSMessage.parse(Array(bytes[0..<length])) }
        }
        _ = try DNSMessage.parse(bytes)
    }

    @Test func corruptedResponsesNeverTrap() throws {
        // Bounded: 5,000 seeded corruptions of a compressed response, each
        // parsed once; a trap would crash the test process.
        let original = try DNSVectors.vector("cnameChain")
        var random = SeededRandom(seed: 0xD45)
        var parsed = 0
        for _ in 0..<5_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if let message = try? DNSMessage.parse(bytes) {
                parsed += 1
                _ = try? message.answer(for: message.questions.first?.name ?? Self.capnet, server: Self.server)
            }
        }
        // Most single-octet changes leave a parsable message, so both outcomes occur.
        #expect(parsed > 0)
        #expect(parsed < 5_000)
    }
}

@Suite struct DNSNameTests {
    @Test func hostNamesAccepted() throws {
        #expect(try DNSName("capnet.test").labels.count == 2)
        #expect(try DNSName("capnet.test.") == DNSName("CAPNET.TEST"))
        #expect(try DNSName("_acme-challenge.a-b.example").description == "_acme-challenge.a-b.example")
        #expect(try DNSName(String(repeating: "a", count: 63) + ".test").labels[0].count == 63)
    }

    @Test func invalidNamesRejected() {
        let invalid = ["", ".", "a..b", ".a", "bad name.test", "ünï.test", "a/b.test",
                       String(repeating: "a", count: 64) + ".test",
                       // Four labels of 63 octets take 4 × 64 + 1 = 257 octets on the wire.
                       Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")]
        for text in invalid {
            #expect(throws: DNSError.self, "\(text) was accepted") { try DNSName(text) }
        }
    }

    @Test func invalidNameErrorNamesTheLabel() {
        let error = #expect(throws: DNSError.self) { try DNSName("bad name.test") }
        let text = error?.description ?? ""
        #expect(text.contains("\"bad name.test\""))
        #expect(text.contains("label \"bad name\" contains \" \""))
    }

    @Test func wireLengthCountsLengthOctetsAndRoot() throws {
        // 1 + 6 + 1 + 4 + 1: two length octets, two labels and the root.
        #expect(try DNSName("capnet.test").wireLength == 13)
    }
}
