/// Record framing and protection for one connection (RFC 8446 §5).
///
/// Inbound, it cuts the byte stream into records, checks their length
/// limits, removes protection and the inner content type. Outbound, it
/// fragments content into records and protects them. It never interprets
/// handshake content; the connection above does.
struct RecordLayer {
    /// `TLSPlaintext` header: type, legacy_record_version, length (RFC 8446 §5.1).
    static let headerLength = 5
    /// 2^14: the largest `TLSPlaintext.fragment` and `TLSInnerPlaintext.content` (RFC 8446 §5.1, §5.2).
    static let maxPlaintextLength = 1 << 14
    /// 2^14 + 256: the largest `TLSCiphertext.encrypted_record` (RFC 8446 §5.2).
    static let maxCiphertextLength = (1 << 14) + 256
    /// `legacy_record_version` on every record this engine writes (RFC 8446 §5.1).
    static let legacyRecordVersion: UInt16 = 0x0303
    /// The smallest record_size_limit a peer may send (RFC 8449 §4).
    static let minimumRecordSizeLimit = 64

    /// Received bytes not yet cut into records; never more than one partial
    /// record plus whatever the caller fed in one call.
    private var inbound: [UInt8] = []
    private var inboundStart = 0

    var readProtection: RecordProtection?
    var writeProtection: RecordProtection?

    /// The largest inner plaintext (content and type byte) accepted in a
    /// protected record: 2^14 + 1, or our advertised record_size_limit.
    var receiveInnerPlaintextLimit = maxPlaintextLength + 1
    /// The largest inner plaintext the peer accepts in a protected record (its record_size_limit).
    var sendInnerPlaintextLimit = maxPlaintextLength + 1
    var padding: RecordPaddingPolicy = .none

    /// Whether an unprotected change_cipher_spec record of the single byte 0x01
    /// is dropped (RFC 8446 §5 and Appendix D.4); the handshake sets it.
    var acceptsCompatibilityCCS = false
    /// Whether an unprotected alert is accepted while read keys are installed;
    /// true until the handshake completes, false after.
    var acceptsUnprotectedAlerts = true
    /// Bytes of undecryptable records still to be skipped as rejected early
    /// data (RFC 8446 §4.2.10); zero when early data is not being skipped.
    var earlyDataSkipBudget = 0
    /// Whether unprotected application_data records are skipped as early data
    /// after a HelloRetryRequest (RFC 8446 §4.2.10).
    var skipsUnprotectedEarlyData = false

    /// One record's content after protection is removed.
    struct Record {
        var contentType: ContentType
        var content: [UInt8]
        /// Whether the record was protected.
        var wasProtected: Bool
    }

    mutating func append<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        if inboundStart > 0 && inboundStart >= inbound.count / 2 {
            inbound.removeSubrange(0..<inboundStart)
            inboundStart = 0
        }
        inbound.append(contentsOf: bytes)
    }

    var bufferedInboundCount: Int { inbound.count - inboundStart }

    /// Cuts, checks and unprotects the next complete record; `nil` when more bytes are needed.
    mutating func nextRecord() throws -> Record? {
        while true {
            guard inbound.count - inboundStart >= Self.headerLength else { return nil }
            let start = inboundStart
            let type = ContentType(rawValue: inbound[start])
            let length = Int(inbound[start + 3]) << 8 | Int(inbound[start + 4])

            // Reject before buffering a whole oversized record.
            let limit = readProtection == nil ? Self.maxPlaintextLength : Self.maxCiphertextLength
            guard length <= limit else {
                throw TLSError(.recordOverflow, "\(type) record of \(length) bytes exceeds \(limit)")
            }
            switch type {
            case .handshake, .alert, .changeCipherSpec, .applicationData: break
            default: throw TLSError(.unexpectedMessage, "record with unknown \(type)")
            }
            guard inbound.count - start >= Self.headerLength + length else { return nil }
            inboundStart = start + Self.headerLength + length
            let body = (start + Self.headerLength)..<(start + Self.headerLength + length)

            if type == .changeCipherSpec {
                // RFC 8446 §5: a single 0x01 byte, unprotected, only during the handshake.
                guard acceptsCompatibilityCCS, length == 1, inbound[body.lowerBound] == 0x01 else {
                    throw TLSError(.unexpectedMessage, "change_cipher_spec record outside the handshake or malformed")
                }
                continue
            }

            guard let protection = readProtection else {
                if type == .applicationData && skipsUnprotectedEarlyData {
                    try consumeEarlyDataBudget(length)
                    continue
                }
                guard type != .applicationData else {
                    throw TLSError(.unexpectedMessage, "application_data before the handshake keys")
                }
                guard length > 0 else {
                    throw TLSError(.unexpectedMessage, "empty \(type) record")
                }
                return Record(contentType: type, content: Array(inbound[body]), wasProtected: false)
            }

            if type == .alert && acceptsUnprotectedAlerts {
                // A peer that failed before installing its handshake keys sends
                // its alert unprotected; report it rather than hiding it behind
                // an unexpected_message of our own.
                return Record(contentType: type, content: Array(inbound[body]), wasProtected: false)
            }
            guard type == .applicationData else {
                throw TLSError(.unexpectedMessage, "unprotected \(type) record after the key change")
            }

            let nonceBefore = protection.sequenceNumber
            let nonce = try protection.nextNonce()
            // The record header is the additional data (RFC 8446 §5.2).
            guard let plaintextLength = protection.aead.open(nonce: nonce, buffer: &inbound,
                                                             additionalData: start..<body.lowerBound,
                                                             ciphertext: body) else {
                if earlyDataSkipBudget > 0 {
                    // A rejected 0-RTT record: undo the sequence number and skip it.
                    protection.rewind(to: nonceBefore)
                    try consumeEarlyDataBudget(length)
                    continue
                }
                throw TLSError(.badRecordMAC, "record failed authentication, sequence number \(nonceBefore)")
            }
            // The first record that decrypts ends the early data.
            earlyDataSkipBudget = 0

            guard plaintextLength <= receiveInnerPlaintextLimit else {
                throw TLSError(.recordOverflow, "inner plaintext of \(plaintextLength) bytes exceeds \(receiveInnerPlaintextLimit)")
            }
            // TLSInnerPlaintext: content, the real type, then zero padding (RFC 8446 §5.2).
            var end = body.lowerBound + plaintextLength
            while end > body.lowerBound && inbound[end - 1] == 0 { end -= 1 }
            guard end > body.lowerBound else {
                throw TLSError(.unexpectedMessage, "protected record with no non-zero content type")
            }
            let innerType = ContentType(rawValue: inbound[end - 1])
            let content = Array(inbound[body.lowerBound..<(end - 1)])
            switch innerType {
            case .handshake, .alert:
                guard !content.isEmpty else { throw TLSError(.unexpectedMessage, "empty protected \(innerType) record") }
            case .applicationData:
                break
            default:
                throw TLSError(.unexpectedMessage, "protected record with inner \(innerType)")
            }
            return Record(contentType: innerType, content: content, wasProtected: true)
        }
    }

    private mutating func consumeEarlyDataBudget(_ length: Int) throws {
        guard earlyDataSkipBudget >= length else {
            throw TLSError(.badRecordMAC, "skipped early data exceeds max_early_data_size")
        }
        earlyDataSkipBudget -= length
    }

    /// Appends `content` as one or more records of `type` to `output`,
    /// protected when write keys are installed.
    mutating func write(_ type: ContentType, _ content: [UInt8], to output: inout [UInt8]) throws {
        guard let protection = writeProtection else {
            var offset = 0
            repeat {
                let end = min(offset + Self.maxPlaintextLength, content.count)
                Self.writeHeader(type, length: end - offset, to: &output)
                output.append(contentsOf: content[offset..<end])
                offset = end
            } while offset < content.count
            return
        }

        let tagLength = protection.aead.algorithm.tagLength
        let maxContent = min(Self.maxPlaintextLength, sendInnerPlaintextLimit - 1)
        var offset = 0
        repeat {
            let end = min(offset + maxContent, content.count)
            var innerLength = end - offset + 1
            if case .multipleOf(let block) = padding, block > 1 {
                let padded = (innerLength + block - 1) / block * block
                innerLength = min(padded, maxContent + 1)
            }
            Self.writeHeader(.applicationData, length: innerLength + tagLength, to: &output)
            let headerStart = output.count - Self.headerLength
            let plaintextStart = output.count
            output.append(contentsOf: content[offset..<end])
            output.append(type.rawValue)
            output.append(contentsOf: repeatElement(0, count: innerLength - (end - offset + 1)))
            let plaintextEnd = output.count
            output.append(contentsOf: repeatElement(0, count: tagLength))
            let nonce = try protection.nextNonce()
            // The record header is the additional data (RFC 8446 §5.2).
            protection.aead.seal(nonce: nonce, buffer: &output, additionalData: headerStart..<plaintextStart,
                                 plaintext: plaintextStart..<plaintextEnd)
            offset = end
        } while offset < content.count
    }

    private static func writeHeader(_ type: ContentType, length: Int, to output: inout [UInt8]) {
        output.append(type.rawValue)
        output.append(UInt8(legacyRecordVersion >> 8))
        output.append(UInt8(legacyRecordVersion & 0xFF))
        output.append(UInt8(length >> 8))
        output.append(UInt8(length & 0xFF))
    }
}

extension RecordProtection {
    /// Sets the sequence number back, after a record that was skipped as early data.
    func rewind(to sequenceNumber: UInt64) { setSequenceNumber(sequenceNumber) }
}
