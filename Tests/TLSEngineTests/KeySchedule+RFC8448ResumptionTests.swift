import Testing
@testable import TLSEngine

/// RFC 8448 §4 "Resumed 0-RTT Handshake": the PSK binder of the resumed
/// ClientHello. Values copied from that section of RFC 8448 (January 2019).
@Suite("PSK binder against RFC 8448 §4")
struct KeyScheduleRFC8448ResumptionTests {
    /// {client} send handshake record: ClientHello (508 octets) with pre_shared_key.
    static let clientHello = hex("""
        01 00 01 fc 03 03 1b c3 ce b6 bb e3 9c ff
        93 83 55 b5 a5 0a db 6d b2 1b 7a 6a f6 49 d7 b4 bc 41 9d 78 76
        48 7d 95 00 00 06 13 01 13 03 13 02 01 00 01 cd 00 00 00 0b 00
        09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12
        00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 33 00
        26 00 24 00 1d 00 20 e4 ff b6 8a c0 5f 8d 96 c9 9d a2 66 98 34
        6c 6b e1 64 82 ba dd da fe 05 1a 66 b4 f1 8d 66 8f 0b 00 2a 00
        00 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02
        03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02
        02 02 00 2d 00 02 01 01 00 1c 00 02 40 01 00 15 00 57 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        00 29 00 dd 00 b8 00 b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00
        00 00 00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70
        ad 3c 49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9
        82 11 72 83 f8 2a 03 a1 43 ef d3 ff 5d d3 6d 64 e8 61 be 7f d6
        1d 28 27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2 9e e0
        37 25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5
        90 6c 5b 3f 7d 8f 92 f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5
        ae a6 17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d
        e6 50 5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 fa d6 aa
        cb 00 21 20 3a dd 4f b2 d8 fd f8 22 a0 ca 3c f7 67 8e f5 e8 8d
        ae 99 01 41 c5 92 4d 57 bb 6f a3 1b 9e 5f 9d
        """)
    /// {client} extract secret "early": IKM is the resumption PSK of §3.
    static let earlySecret = hex("9b 21 88 e9 b2 fc 6d 64 d7 1d c3 29 90 0e 20 bb 41 91 50 00 f6 78 aa 83 9c bb 79 7c b7 d8 33 2c")
    /// {client} calculate PSK binder: PRK (the binder key).
    static let binderKey = hex("69 fe 13 1a 3b ba d5 d6 3c 64 ee bc c3 0e 39 5b 9d 81 07 72 6a 13 d0 74 e3 89 db c8 a4 e4 72 56")
    /// binder hash: the hash of the ClientHello without its binders.
    static let binderHash = hex("63 22 4b 2e 45 73 f2 d3 45 4c a8 4b 9d 00 9a 04 f6 be 9e 05 71 1a 83 96 47 3a ef a0 1e 92 4a 14")
    /// expanded: the finished key made from the binder key.
    static let binderFinishedKey = hex("55 88 67 3e 72 cb 59 c8 7d 22 0c af fe 94 f2 de a9 a3 b1 60 9f 7d 50 e9 0a 48 22 7d b9 ed 7e aa")
    static let binder = hex("3a dd 4f b2 d8 fd f8 22 a0 ca 3c f7 67 8e f5 e8 8d ae 99 01 41 c5 92 4d 57 bb 6f a3 1b 9e 5f 9d")

    @Test func binderMatchesTrace() throws {
        let schedule = KeySchedule(hash: .sha256)
        let early = schedule.earlySecret(preSharedKey: RFC8448SimpleHandshake.resumptionPSK)
        #expect(early == Self.earlySecret)
        let binderKey = schedule.binderKey(earlySecret: early, external: false)
        #expect(binderKey == Self.binderKey)
        #expect(schedule.finishedKey(baseKey: binderKey) == Self.binderFinishedKey)

        let hello = try ClientHello(body: Array(Self.clientHello.dropFirst(4)))
        let offered = try #require(try hello.extensions.offeredPSKs())
        #expect(offered.identities.count == 1)
        #expect(offered.identities[0].identity.count == 0xB2)
        #expect(offered.binders == [Self.binder])
        let truncated = Array(Self.clientHello.dropLast(offered.bindersLength))
        let hash = CryptoProvider.shared.hash(.sha256, truncated)
        #expect(hash == Self.binderHash)
        #expect(schedule.finishedVerifyData(baseKey: binderKey, transcriptHash: hash) == Self.binder)
    }
}
