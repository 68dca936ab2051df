#if canImport(Glibc)
import Glibc
#endif

/// Receives traffic secrets in the NSS key log format, for decrypting captures.
///
/// Off unless configured: anyone holding these lines can read the traffic.
public protocol TLSKeyLog: AnyObject, Sendable {
    /// Records one secret: `label` is an NSS label such as `CLIENT_TRAFFIC_SECRET_0`.
    func record(label: String, clientRandom: [UInt8], secret: [UInt8])
}

extension TLSKeyLog {
    /// One key log line without its newline: `LABEL <client_random hex> <secret hex>`.
    public static func line(label: String, clientRandom: [UInt8], secret: [UInt8]) -> String {
        "\(label) \(hexEncode(clientRandom)) \(hexEncode(secret))"
    }
}

func hexEncode(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return text
}

/// Appends key log lines to a file (the `SSLKEYLOGFILE` format), created with mode 0600.
public final class KeyLogFile: TLSKeyLog, @unchecked Sendable {
    private let descriptor: Int32
    public let path: String

    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw KeyVaultError.storage("cannot open key log file \(path): errno \(errno)")
        }
        descriptor = fd
        self.path = path
    }

    deinit { close(descriptor) }

    public func record(label: String, clientRandom: [UInt8], secret: [UInt8]) {
        // One write call per line: O_APPEND keeps concurrent lines whole.
        let text = Array((Self.line(label: label, clientRandom: clientRandom, secret: secret) + "\n").utf8)
        _ = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
