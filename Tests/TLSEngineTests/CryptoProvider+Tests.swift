import Testing
@testable import TLSEngine

@Suite("Crypto provider")
struct CryptoProviderTests {
    let provider = CryptoProvider.shared

    /// RFC 4231 §4.2, test case 1.
    @Test func hmacSHA256RFC4231() {
        let tag = provider.hmac(.sha256, key: [UInt8](repeating: 0x0B, count: 20), data: Array("Hi There".utf8))
        #expect(tag == hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
    }

    /// RFC 5869 Appendix A.1, test case 1.
    @Test func hkdfRFC5869() {
        let prk = provider.hkdfExtract(.sha256, salt: Array(0x00...0x0C), inputKeyMaterial: [UInt8](repeating: 0x0B, count: 22))
        #expect(prk == hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"))
        let okm = provider.hkdfExpand(.sha256, pseudorandomKey: prk, info: Array(0xF0...0xF9), length: 42)
        #expect(okm == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    }

    /// RFC 5869 Appendix A.3 (empty salt and info) after A.1, twice: the
    /// provider reuses HKDF contexts, so no salt or info may carry over.
    @Test func hkdfReusedContextsKeepNoInput() {
        let ikm = [UInt8](repeating: 0x0B, count: 22)
        for _ in 0..<2 {
            let withSalt = provider.hkdfExtract(.sha256, salt: Array(0x00...0x0C), inputKeyMaterial: ikm)
            #expect(withSalt == hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"))
            let prk = provider.hkdfExtract(.sha256, salt: [], inputKeyMaterial: ikm)
            #expect(prk == hex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04"))
            _ = provider.hkdfExpand(.sha256, pseudorandomKey: withSalt, info: Array(0xF0...0xF9), length: 42)
            let okm = provider.hkdfExpand(.sha256, pseudorandomKey: prk, info: [], length: 42)
            #expect(okm == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
        }
    }

    @Test func sha384OfEmptyInput() {
        // FIPS 180-4 SHA-384 of the empty string.
        #expect(provider.hash(.sha384, []) == hex("""
            38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b
            """))
    }

    @Test(arguments: [NamedGroup.x25519, .secp256r1, .secp384r1])
    func keyAgreementMatches(group: NamedGroup) throws {
        let a = try KeyExchangePrivateKey(group: group)
        let b = try KeyExchangePrivateKey(group: group)
        #expect(a.publicKeyBytes.count == KeyExchangePrivateKey.publicKeyLength(group))
        #expect(try a.sharedSecret(peerPublicKey: b.publicKeyBytes) == b.sharedSecret(peerPublicKey: a.publicKeyBytes))
    }

    @Test(arguments: [NamedGroup.secp256r1, .secp384r1])
    func invalidECPointsAreRejected(group: NamedGroup) throws {
        let key = try KeyExchangePrivateKey(group: group)
        let length = KeyExchangePrivateKey.publicKeyLength(group)!
        // The point (0, 0) is not on the curve.
        #expect(throws: CryptoError.self) { try key.sharedSecret(peerPublicKey: [0x04] + [UInt8](repeating: 0, count: length - 1)) }
        // A compressed point is not allowed in TLS 1.3.
        var compressed = key.publicKeyBytes
        compressed[0] = 0x02
        #expect(throws: CryptoError.self) { try key.sharedSecret(peerPublicKey: compressed) }
        #expect(throws: CryptoError.self) { try key.sharedSecret(peerPublicKey: Array(key.publicKeyBytes.dropLast())) }
    }

    @Test func x25519LowOrderPointIsRejected() throws {
        let key = try KeyExchangePrivateKey(group: .x25519)
        // The all-zero public value gives the all-zero shared secret (RFC 7748 §6.1).
        #expect(throws: CryptoError.self) { try key.sharedSecret(peerPublicKey: [UInt8](repeating: 0, count: 32)) }
    }

    @Test(arguments: [AEADAlgorithm.aes128GCM, .aes256GCM, .chacha20Poly1305])
    func aeadRoundTripAndTamper(algorithm: AEADAlgorithm) throws {
        let key = provider.randomBytes(algorithm.keyLength)
        let nonce = provider.randomBytes(algorithm.nonceLength)
        let sealer = try provider.makeAEAD(algorithm, key: key, sealing: true)
        let opener = try provider.makeAEAD(algorithm, key: key, sealing: false)
        let sealed = sealer.seal(nonce: nonce, additionalData: [1, 2, 3], plaintext: Array("secret".utf8))
        #expect(sealed.count == 6 + algorithm.tagLength)
        #expect(opener.open(nonce: nonce, additionalData: [1, 2, 3], ciphertext: sealed) == Array("secret".utf8))
        #expect(opener.open(nonce: nonce, additionalData: [1, 2, 4], ciphertext: sealed) == nil)
        var flipped = sealed
        flipped[0] ^= 0x80
        #expect(opener.open(nonce: nonce, additionalData: [1, 2, 3], ciphertext: flipped) == nil)
        // The context keeps working after a failure.
        #expect(opener.open(nonce: nonce, additionalData: [1, 2, 3], ciphertext: sealed) == Array("secret".utf8))
    }
}

/// Record protection of RFC 8448 §3 records, with keys from that trace.
@Suite("Record protection against RFC 8448 §3")
struct RecordProtectionRFC8448Tests {
    typealias Trace = RFC8448SimpleHandshake
    let provider = CryptoProvider.shared

    @Test func clientApplicationRecordSealsExactly() throws {
        let protection = try RecordProtection(provider: provider, algorithm: .aes128GCM, key: Trace.clientApplicationKey,
                                              iv: Trace.clientApplicationIV, sealing: true)
        var records = RecordLayer()
        records.writeProtection = protection
        var output: [UInt8] = []
        try records.write(.applicationData, Array(0x00...0x31), to: &output)
        #expect(output == Trace.clientApplicationRecord)
    }

    @Test func serverApplicationRecordOpens() throws {
        var records = RecordLayer()
        records.readProtection = try RecordProtection(provider: provider, algorithm: .aes128GCM,
                                                      key: Trace.serverApplicationKey, iv: Trace.serverApplicationIV,
                                                      sealing: false)
        // The trace's server sent its NewSessionTicket first under these keys, as record 0.
        records.readProtection?.setSequenceNumber(1)
        records.append(Trace.serverApplicationRecord)
        let record = try records.nextRecord()
        #expect(record?.contentType == .applicationData)
        #expect(record?.content == Array(0x00...0x31))
    }

    @Test func clientFinishedRecordOpens() throws {
        var records = RecordLayer()
        records.readProtection = try RecordProtection(provider: provider, algorithm: .aes128GCM,
                                                      key: Trace.clientHandshakeKey, iv: Trace.clientHandshakeIV,
                                                      sealing: false)
        records.append(Trace.clientFinishedRecord)
        let record = try records.nextRecord()
        #expect(record?.contentType == .handshake)
        #expect(record?.content == [0x14, 0x00, 0x00, 0x20] + Trace.clientFinishedVerifyData)
    }
}
