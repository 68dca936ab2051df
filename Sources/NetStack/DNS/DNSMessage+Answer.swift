/// The addresses a response gives for a name, after following its CNAMEs.
public struct DNSAnswer: Hashable, Sendable {
    /// The A records of the last name in the CNAME chain, in response order.
    public var addresses: [IPv4Address]
    /// The smallest TTL of the CNAME and A records used, in seconds.
    public var timeToLive: UInt32
    /// The name the A records belong to: the queried name, or the end of its CNAME chain.
    public var canonicalName: DNSName
}

extension DNSMessage {
    /// Aliases followed within one response before giving up, which bounds
    /// the work per response. No RFC sets a number; 8 is a judgment.
    public static let maximumCNAMEChainLength = 8

    /// Checks that the message is the response to the standard A query with
    /// `id` for `name`: QR set, opcode 0, the same ID and the same single
    /// question. RFC 1035 §7.3 and RFC 5452 ask a resolver to match these
    /// before it accepts a response.
    public func checkResponse(toQueryWithID id: UInt16, name: DNSName) throws(DNSWireError) {
        guard header.isResponse else { throw .notAResponse }
        guard header.opcode == Self.standardQueryOpcode else { throw .unexpectedOpcode(header.opcode) }
        guard header.id == id else { throw .idMismatch(expected: id, received: header.id) }
        guard questions.count == 1 else { throw .questionCount(questions.count) }
        let question = questions[0]
        guard question.name == name, question.type == .a, question.recordClass == .internet else {
            throw .questionMismatch(expected: name, received: question.name, type: question.type,
                                    class: question.recordClass)
        }
    }

    /// Returns the A records for `name`, following the CNAME records of the
    /// answer section from `name` to the name that owns the addresses
    /// (RFC 1034 §3.6.2, §5.3.3). Call it after `checkResponse`.
    ///
    /// A set TC bit, a non-zero RCODE and an answer without A records are
    /// errors; `server` is named in them.
    public func answer(for name: DNSName, server: IPv4Endpoint) throws(DNSError) -> DNSAnswer {
        guard !header.isTruncated else { throw .truncatedResponse(name, server: server) }
        switch header.responseCode {
        case .noError: break
        case .nameError: throw .nameNotFound(name, server: server)
        case .serverFailure: throw .serverFailure(name, server: server)
        case .refused: throw .refused(name, server: server)
        default: throw .errorResponse(name, server: server, code: header.responseCode)
        }

        var current = name
        var timeToLive = UInt32.max
        var aliasesFollowed = 0
        while let alias = answers.first(where: { $0.name == current && $0.type == .cname }),
              case .cname(let target) = alias.data {
            aliasesFollowed += 1
            guard aliasesFollowed <= Self.maximumCNAMEChainLength else {
                throw .cnameChainTooLong(name, limit: Self.maximumCNAMEChainLength)
            }
            timeToLive = min(timeToLive, alias.timeToLive)
            current = target
        }

        var addresses: [IPv4Address] = []
        for record in answers where record.name == current {
            guard case .a(let address) = record.data else { continue }
            addresses.append(address)
            timeToLive = min(timeToLive, record.timeToLive)
        }
        guard !addresses.isEmpty else { throw .noAddresses(name, server: server) }
        return DNSAnswer(addresses: addresses, timeToLive: timeToLive, canonicalName: current)
    }
}
