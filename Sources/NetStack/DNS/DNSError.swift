/// The reason the parser rejected a DNS message. Offsets count octets from
/// the start of the DNS message.
public enum DNSWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A field at `offset` needs `needed` octets, but the message has `length`.
    case truncated(offset: Int, needed: Int, length: Int)
    /// The length octet at `offset` has the top bits 01 or 10, which RFC 1035
    /// §4.1.4 reserves. RFC 6891 retired the extended label type 01.
    case reservedLabelType(offset: Int, octet: UInt8)
    /// A compression pointer at `offset` points at or past the end of the message.
    case pointerOutOfRange(offset: Int, target: Int, length: Int)
    /// Following compression pointers from `offset` took more jumps than a
    /// valid name needs, so the pointers form a loop.
    case pointerLoop(offset: Int, jumps: Int)
    /// The name starting at `offset` is longer than 255 octets on the wire.
    case nameTooLong(offset: Int)
    /// A record's RDLENGTH does not fit its type: an A record with other than
    /// 4 octets, or a CNAME whose name does not end where the RDATA does.
    case badRecordLength(offset: Int, type: DNSRecordType, length: Int)
    /// The QR bit is 0, so the message is a query.
    case notAResponse
    /// The opcode is not the standard query's 0.
    case unexpectedOpcode(UInt8)
    /// The response's ID is not the query's.
    case idMismatch(expected: UInt16, received: UInt16)
    /// The response does not carry exactly the one question we sent.
    case questionCount(Int)
    /// The response's question is not ours (name compared without regard to
    /// case, type and class exactly).
    case questionMismatch(expected: DNSName, received: DNSName, type: DNSRecordType, class: DNSClass)

    public var description: String {
        switch self {
        case .truncated(let offset, let needed, let length):
            "DNS message truncated: \(needed) octets needed at offset \(offset), but the message has \(length)"
        case .reservedLabelType(let offset, let octet):
            "DNS name label at offset \(offset) has the reserved type bits of length octet 0x\(String(octet, radix: 16))"
        case .pointerOutOfRange(let offset, let target, let length):
            "DNS compression pointer at offset \(offset) points to offset \(target), outside the \(length)-octet message"
        case .pointerLoop(let offset, let jumps):
            "DNS compression pointers of the name at offset \(offset) loop: more than \(jumps) jumps"
        case .nameTooLong(let offset):
            "DNS name at offset \(offset) is longer than \(DNSName.maximumWireLength) octets"
        case .badRecordLength(let offset, let type, let length):
            "DNS record of type \(type) at offset \(offset) has an invalid RDLENGTH of \(length)"
        case .notAResponse:
            "DNS message is a query (QR bit 0), not a response"
        case .unexpectedOpcode(let opcode):
            "DNS response has opcode \(opcode), not 0 (standard query)"
        case .idMismatch(let expected, let received):
            "DNS response ID \(received) does not match the query ID \(expected)"
        case .questionCount(let count):
            "DNS response carries \(count) questions, not the 1 that was sent"
        case .questionMismatch(let expected, let received, let type, let recordClass):
            "DNS response question \(received) type \(type) class \(recordClass) does not match the query for \(expected) type A class IN"
        }
    }
}

/// The reason resolving a name failed, with what to do about it.
public enum DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The name given to the resolver is not a valid host name.
    case invalidName(String, reason: String)
    /// The server reported NXDOMAIN (RCODE 3): the name does not exist.
    case nameNotFound(DNSName, server: IPv4Endpoint)
    /// The name exists but has no A record (NOERROR with no answer, RFC 2308 §2.2).
    case noAddresses(DNSName, server: IPv4Endpoint)
    /// The server reported SERVFAIL (RCODE 2).
    case serverFailure(DNSName, server: IPv4Endpoint)
    /// The server reported REFUSED (RCODE 5), usually because it does not
    /// recurse for this client.
    case refused(DNSName, server: IPv4Endpoint)
    /// Another RCODE, such as FORMERR (1) or NOTIMP (4).
    case errorResponse(DNSName, server: IPv4Endpoint, code: DNSResponseCode)
    /// The response had the TC bit set, and this resolver does not retry over TCP.
    case truncatedResponse(DNSName, server: IPv4Endpoint)
    /// The response to our query could not be parsed.
    case malformedResponse(DNSName, server: IPv4Endpoint, reason: DNSWireError)
    /// The response's CNAME records lead through more than `limit` names.
    case cnameChainTooLong(DNSName, limit: Int)
    /// No matching response arrived after `attempts` transmissions.
    case timedOut(DNSName, server: IPv4Endpoint, attempts: Int)
    /// `limit` queries are already in flight.
    case tooManyQueries(limit: Int)
    /// No free UDP source port was found after `tries` random choices.
    case noFreeSourcePort(DNSName, tries: Int)
    /// The resolver service was closed before the query finished.
    case closed(DNSName?)

    public var description: String {
        switch self {
        case .invalidName(let name, let reason):
            "invalid host name \"\(name)\": \(reason)"
        case .nameNotFound(let name, let server):
            "host name \(name) does not exist (NXDOMAIN from \(server)); check the spelling"
        case .noAddresses(let name, let server):
            "host name \(name) has no IPv4 address (no A record at \(server)); add one or use another name"
        case .serverFailure(let name, let server):
            "DNS server \(server) failed to resolve \(name) (SERVFAIL); retry later or use another server"
        case .refused(let name, let server):
            "DNS server \(server) refused to resolve \(name) (REFUSED); configure a server that recurses for this address"
        case .errorResponse(let name, let server, let code):
            "DNS server \(server) returned RCODE \(code) for \(name); check that it is a DNS server that recurses for this address"
        case .truncatedResponse(let name, let server):
            "DNS response from \(server) for \(name) was truncated (TC bit) and this resolver does not retry over TCP; use a server that answers over UDP"
        case .malformedResponse(let name, let server, let reason):
            "invalid DNS response from \(server) for \(name): \(reason); check the server"
        case .cnameChainTooLong(let name, let limit):
            "CNAME records for \(name) lead through more than \(limit) names; fix the zone's aliases"
        case .timedOut(let name, let server, let attempts):
            "DNS query for \(name) to \(server) timed out after \(attempts) attempts; check that the server is reachable"
        case .tooManyQueries(let limit):
            "\(limit) DNS queries are already in flight; retry when one finishes"
        case .noFreeSourcePort(let name, let tries):
            "no free UDP source port for the DNS query for \(name) after \(tries) random choices; close unused UDP sockets"
        case .closed(let name):
            if let name {
                "the DNS resolver was closed before the query for \(name) finished"
            } else {
                "the DNS resolver is closed"
            }
        }
    }
}
