// Snapshot rows for TCP connections and TLS sessions. The TCP and TLS
// layers keep their own state; their owner copies it into these values.
import Foundation

/// The connection states of RFC 9293 §3.3.2, spelled as the RFC spells them.
public enum TCPStateName: String, Codable, Hashable, Sendable, CaseIterable {
    case listen = "LISTEN"
    case synSent = "SYN-SENT"
    case synReceived = "SYN-RECEIVED"
    case established = "ESTABLISHED"
    case finWait1 = "FIN-WAIT-1"
    case finWait2 = "FIN-WAIT-2"
    case closeWait = "CLOSE-WAIT"
    case closing = "CLOSING"
    case lastAck = "LAST-ACK"
    case timeWait = "TIME-WAIT"
    case closed = "CLOSED"
}

/// One TCP connection.
public struct ConnectionStatus: Codable, Hashable, Sendable {
    /// "192.0.2.1:443".
    public var local: String
    public var remote: String
    public var state: TCPStateName
    /// Smoothed round-trip time (SRTT, RFC 6298 §2) in milliseconds; nil before the first measurement.
    public var smoothedRTTMilliseconds: Double?
    /// Congestion window (RFC 5681 §2) in bytes.
    public var congestionWindowBytes: Int
    /// Payload bytes received from the peer and sent to it.
    public var bytesReceived: UInt64
    public var bytesSent: UInt64

    public init(local: String, remote: String, state: TCPStateName, smoothedRTTMilliseconds: Double?,
                congestionWindowBytes: Int, bytesReceived: UInt64, bytesSent: UInt64)
    {
        self.local = local
        self.remote = remote
        self.state = state
        self.smoothedRTTMilliseconds = smoothedRTTMilliseconds
        self.congestionWindowBytes = congestionWindowBytes
        self.bytesReceived = bytesReceived
        self.bytesSent = bytesSent
    }
}

/// One TLS session, after its handshake completed.
public struct TLSSessionStatus: Codable, Hashable, Sendable {
    /// The peer's endpoint, "198.51.100.7:50123".
    public var remote: String
    /// "TLS 1.3", "TLS 1.2".
    public var version: String
    /// IANA cipher suite name, "TLS_AES_128_GCM_SHA256".
    public var cipherSuite: String
    /// IANA supported group name, "x25519".
    public var group: String
    /// The server_name the client sent (RFC 6066 §3), as received: it is
    /// peer-controlled text and every renderer escapes it.
    public var serverName: String?
    /// The protocol chosen by ALPN (RFC 7301), "http/1.1".
    public var alpn: String?
    /// Whether the handshake resumed an earlier session (PSK or ticket).
    public var resumed: Bool

    public init(remote: String, version: String, cipherSuite: String, group: String, serverName: String?,
                alpn: String?, resumed: Bool)
    {
        self.remote = remote
        self.version = version
        self.cipherSuite = cipherSuite
        self.group = group
        self.serverName = serverName
        self.alpn = alpn
        self.resumed = resumed
    }
}

/// One certificate the service presents, with its ACME state when ACME manages it.
public struct CertificateStatus: Codable, Hashable, Sendable {
    public enum Source: String, Codable, Hashable, Sendable {
        /// Issued through ACME (RFC 8555).
        case acme
        /// Issued by the local development CA.
        case developmentCA = "development-ca"
        case selfSigned = "self-signed"
        /// Loaded from a file the operator supplied.
        case file
    }

    public var subject: String
    public var issuer: String
    public var subjectAlternativeNames: [String]
    public var notAfter: Date
    public var source: Source
    /// The serial number in hexadecimal, when known; it changes with each renewal.
    public var serialNumber: String?
    /// Nil when ACME does not manage this certificate.
    public var acme: ACMEStatus?

    public init(subject: String, issuer: String, subjectAlternativeNames: [String], notAfter: Date,
                source: Source, serialNumber: String? = nil, acme: ACMEStatus? = nil)
    {
        self.subject = subject
        self.serialNumber = serialNumber
        self.issuer = issuer
        self.subjectAlternativeNames = subjectAlternativeNames
        self.notAfter = notAfter
        self.source = source
        self.acme = acme
    }
}

/// The ACME state of one certificate.
public struct ACMEStatus: Codable, Hashable, Sendable {
    public enum State: String, Codable, Hashable, Sendable {
        /// An order is in progress.
        case issuing
        /// A valid certificate is installed.
        case valid
        /// The last order failed, for the reason in `lastError`.
        case failed
    }

    public var state: State
    public var validUntil: Date?
    public var nextRenewal: Date?
    public var lastError: String?

    public init(state: State, validUntil: Date? = nil, nextRenewal: Date? = nil, lastError: String? = nil) {
        self.state = state
        self.validUntil = validUntil
        self.nextRenewal = nextRenewal
        self.lastError = lastError
    }
}

/// One packet capture file.
public struct CaptureStatus: Codable, Hashable, Sendable {
    public var name: String
    public var sizeBytes: UInt64
    public var running: Bool
    /// Why a capture stopped when the operator did not stop it (a size
    /// limit, a failed write); nil otherwise, and then absent from the JSON.
    public var stopReason: String?

    public init(name: String, sizeBytes: UInt64, running: Bool, stopReason: String? = nil) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.running = running
        self.stopReason = stopReason
    }
}
