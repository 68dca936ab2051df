/// Entry points for the libFuzzer targets (`tls-record-fuzz`,
/// `tls-handshake-fuzz`): they reach the record reader, the handshake
/// reassembler and the extension decoders, which are internal. Not API for
/// callers: import with `@_spi(Fuzzing) import TLSEngine`.
@_spi(Fuzzing)
public enum TLSFuzzing {
    /// How the record reader is set up before the bytes arrive.
    public struct RecordReaderSetup: Sendable {
        /// Read keys installed, or `nil` for the unprotected phase.
        public var readKeys: (algorithm: AEADAlgorithm, key: [UInt8], iv: [UInt8])?
        public var acceptsCompatibilityCCS: Bool
        public var acceptsUnprotectedAlerts: Bool
        public var earlyDataSkipBudget: Int
        public var skipsUnprotectedEarlyData: Bool
        /// The advertised record_size_limit, as inner plaintext bytes.
        public var receiveInnerPlaintextLimit: Int

        public init(readKeys: (algorithm: AEADAlgorithm, key: [UInt8], iv: [UInt8])?,
                    acceptsCompatibilityCCS: Bool, acceptsUnprotectedAlerts: Bool,
                    earlyDataSkipBudget: Int, skipsUnprotectedEarlyData: Bool,
                    receiveInnerPlaintextLimit: Int) {
            self.readKeys = readKeys
            self.acceptsCompatibilityCCS = acceptsCompatibilityCCS
            self.acceptsUnprotectedAlerts = acceptsUnprotectedAlerts
            self.earlyDataSkipBudget = earlyDataSkipBudget
            self.skipsUnprotectedEarlyData = skipsUnprotectedEarlyData
            self.receiveInnerPlaintextLimit = receiveInnerPlaintextLimit
        }
    }

    /// The largest inner plaintext a protected record may carry: 2^14 + 1 (RFC 8446 §5.2).
    public static let maxInnerPlaintextLength = RecordLayer.maxPlaintextLength + 1

    /// Feeds `chunks` to a fresh record reader, one `append` each, and reads
    /// every record and handshake message they complete.
    ///
    /// - Returns: how many contents were read before the end or the first error.
    @discardableResult
    public static func readRecords(_ chunks: [[UInt8]], setup: RecordReaderSetup) -> Int {
        var wire = RecordConnection()
        if let keys = setup.readKeys {
            guard let protection = try? RecordProtection(provider: .shared, algorithm: keys.algorithm,
                                                         key: keys.key, iv: keys.iv, sealing: false) else { return 0 }
            wire.records.readProtection = protection
        }
        wire.records.acceptsCompatibilityCCS = setup.acceptsCompatibilityCCS
        wire.records.acceptsUnprotectedAlerts = setup.acceptsUnprotectedAlerts
        wire.records.earlyDataSkipBudget = setup.earlyDataSkipBudget
        wire.records.skipsUnprotectedEarlyData = setup.skipsUnprotectedEarlyData
        wire.records.receiveInnerPlaintextLimit = setup.receiveInnerPlaintextLimit
        var count = 0
        do {
            for chunk in chunks {
                wire.records.append(chunk)
                while let _ = try wire.nextContent(keyChangeTypes: [.finished, .keyUpdate, .serverHello]) {
                    count += 1
                }
            }
        } catch {
            // Most inputs end in a typed rejection. Sending the alert runs its encoding too.
            if let error = error as? TLSError { wire.sendAlert(for: error) }
        }
        _ = wire.takeOutput()
        return count
    }

    /// Cuts `stream` into handshake messages and runs every message parser
    /// and every extension decoder on each of them.
    ///
    /// - Returns: how many parsers accepted their input.
    @discardableResult
    public static func parseHandshakeMessages(_ stream: [UInt8]) -> Int {
        var reassembler = HandshakeReassembler()
        reassembler.append(stream)
        var accepted = 0
        while let message = try? reassembler.nextMessage() {
            accepted += parseMessage(body: message.body)
        }
        return accepted
    }

    /// Runs every message parser on `body`, whatever its type byte says, and
    /// the extension decoders on each extension list that parses.
    static func parseMessage(body: [UInt8]) -> Int {
        var lists: [ExtensionList] = []
        var accepted = 0
        if let hello = try? ClientHello(body: body) {
            lists.append(hello.extensions)
            _ = hello.encodeBody()
            accepted += 1
        }
        if let hello = try? ServerHello(body: body) {
            lists.append(hello.extensions)
            var reader = ByteReader(hello.extensions[.keyShare] ?? [])
            if (try? KeyShareEntry.read(from: &reader)) != nil { accepted += 1 }
            _ = hello.encodeBody()
            accepted += 1
        }
        if let encrypted = try? EncryptedExtensions(body: body) {
            lists.append(encrypted.extensions)
            accepted += 1
        }
        if let certificate = try? CertificateMessage(body: body) {
            lists.append(contentsOf: certificate.entries.map(\.extensions))
            _ = certificate.encodeBody()
            accepted += 1
        }
        if let request = try? CertificateRequest(body: body) {
            lists.append(request.extensions)
            _ = request.encodeBody()
            accepted += 1
        }
        if let verify = try? CertificateVerify(body: body) {
            _ = verify.encodeBody()
            accepted += 1
        }
        if let ticket = try? NewSessionTicket(body: body) {
            lists.append(ticket.extensions)
            _ = ticket.encodeBody()
            accepted += 1
        }
        if (try? KeyUpdate(body: body)) != nil { accepted += 1 }
        for hashLength in finishedHashLengths where (try? Finished(body: body, hashLength: hashLength)) != nil {
            accepted += 1
        }
        for list in lists {
            accepted += decodeExtensions(list)
        }
        return accepted
    }

    /// SHA-256 and SHA-384 output lengths, the two Finished sizes (RFC 8446 §4.4.4).
    static let finishedHashLengths = [32, 48]

    static func decodeExtensions(_ list: ExtensionList) -> Int {
        var accepted = 0
        if (try? list.clientSupportedVersions()) != nil { accepted += 1 }
        if (try? list.supportedGroups()) != nil { accepted += 1 }
        if (try? list.signatureAlgorithms()) != nil { accepted += 1 }
        if (try? list.clientKeyShares()) != nil { accepted += 1 }
        if (try? list.serverName()) != nil { accepted += 1 }
        if (try? list.applicationProtocols()) != nil { accepted += 1 }
        if (try? list.pskKeyExchangeModes()) != nil { accepted += 1 }
        if (try? list.recordSizeLimit()) != nil { accepted += 1 }
        if (try? list.offeredPSKs()) != nil { accepted += 1 }
        return accepted
    }
}
