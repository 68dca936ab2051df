import Testing
@testable import TLSEngine

@Suite("Codec")
struct CodecTests {
    typealias Trace = RFC8448SimpleHandshake

    @Test func rfc8448ClientHelloParsesAndRoundTrips() throws {
        let hello = try ClientHello(body: Array(Trace.clientHello.dropFirst(4)))
        #expect(hello.cipherSuites == [.tlsAES128GCMSHA256, .tlsChaCha20Poly1305SHA256, .tlsAES256GCMSHA384])
        #expect(try hello.extensions.serverName() == "server")
        #expect(try hello.extensions.supportedGroups() == [.x25519, .secp256r1, .secp384r1, .secp521r1,
                                                            NamedGroup(rawValue: 0x0100), NamedGroup(rawValue: 0x0101),
                                                            NamedGroup(rawValue: 0x0102), NamedGroup(rawValue: 0x0103),
                                                            NamedGroup(rawValue: 0x0104)])
        #expect(try hello.extensions.clientKeyShares() == [KeyShareEntry(group: .x25519, keyExchange: Trace.clientPublicKey)])
        #expect(try hello.extensions.clientSupportedVersions() == [.tls13])
        #expect(try hello.extensions.recordSizeLimit() == 0x4001)
        // Unknown extensions (renegotiation_info 0xff01, session_ticket 35) are kept, not dropped.
        #expect(hello.extensions.contains(ExtensionType(rawValue: 0xFF01)))
        #expect(HandshakeHeader.encode(.clientHello, body: hello.encodeBody()) == Trace.clientHello)
    }

    @Test func rfc8448ServerMessagesParse() throws {
        let serverHello = try ServerHello(body: Array(Trace.serverHello.dropFirst(4)))
        #expect(serverHello.cipherSuite == .tlsAES128GCMSHA256)
        #expect(!serverHello.isHelloRetryRequest)
        #expect(HandshakeHeader.encode(.serverHello, body: serverHello.encodeBody()) == Trace.serverHello)

        let encrypted = try EncryptedExtensions(body: Array(Trace.encryptedExtensions.dropFirst(4)))
        #expect(HandshakeHeader.encode(.encryptedExtensions, body: encrypted.encodeBody()) == Trace.encryptedExtensions)

        let certificate = try CertificateMessage(body: Array(Trace.certificate.dropFirst(4)))
        #expect(certificate.entries.count == 1)
        #expect(certificate.entries[0].certificateData.count == 0x1B0)
        #expect(HandshakeHeader.encode(.certificate, body: certificate.encodeBody()) == Trace.certificate)

        let verify = try CertificateVerify(body: Array(Trace.certificateVerify.dropFirst(4)))
        #expect(verify.algorithm == .rsaPSSRSAESHA256)
        #expect(verify.signature.count == 128)
    }

    @Test func nestedLengthCannotExceedParent() {
        // An outer vector of 3 bytes whose inner opaque claims 5.
        var reader = ByteReader([0x00, 0x03, 0x00, 0x05, 0xAA, 0xBB, 0xCC, 0xDD])
        #expect(throws: TLSError(.truncated, "inner: needs 5 bytes, 1 left")) {
            try reader.readNested(prefixBytes: 2, lengths: 0...100, "outer") { inner in
                try inner.readOpaque(prefixBytes: 2, lengths: 0...100, "inner")
            }
        }
    }

    @Test func trailingBytesInNestedStructureRejected() {
        var reader = ByteReader([0x03, 0x01, 0x02, 0x03])
        do {
            _ = try reader.readNested(prefixBytes: 1, lengths: 0...10, "field") { try $0.readUInt8() }
            Issue.record("trailing bytes accepted")
        } catch let error as TLSError {
            #expect(error.kind == .trailingBytes)
            #expect(error.alert == .decodeError)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func lengthOutsideRangeRejected() {
        var reader = ByteReader([0x00])
        #expect(throws: TLSError.self) { try reader.readOpaque(prefixBytes: 1, lengths: 1...255, "x") }
    }

    @Test func keyUpdateValuesChecked() throws {
        #expect(try KeyUpdate(body: [0]).requestUpdate == .updateNotRequested)
        #expect(try KeyUpdate(body: [1]).requestUpdate == .updateRequested)
        do {
            _ = try KeyUpdate(body: [2])
            Issue.record("request_update 2 accepted")
        } catch let error as TLSError {
            #expect(error.alert == .illegalParameter)
        }
    }

    @Test func newSessionTicketRoundTrips() throws {
        let ticket = NewSessionTicket(ticketLifetime: 7200, ticketAgeAdd: 0xDEADBEEF, ticketNonce: [0, 1],
                                      ticket: [9, 9, 9])
        let parsed = try NewSessionTicket(body: ticket.encodeBody())
        #expect(parsed.ticketLifetime == 7200)
        #expect(parsed.ticketAgeAdd == 0xDEADBEEF)
        #expect(parsed.ticketNonce == [0, 1])
        #expect(parsed.ticket == [9, 9, 9])
    }

    @Test func greaseDetection() {
        #expect(isGREASE(0x0A0A))
        #expect(isGREASE(0xFAFA))
        #expect(!isGREASE(0x0A1A))
        #expect(!isGREASE(0x001D))
    }

    @Test func alertMappingIsComplete() {
        #expect(TLSError(.truncated, "").alert == .decodeError)
        #expect(TLSError(.recordOverflow, "").alert == .recordOverflow)
        #expect(TLSError(.peerAlert(.decodeError), "").alert == nil)
    }
}
