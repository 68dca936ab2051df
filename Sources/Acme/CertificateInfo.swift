import CLibCrypto
import Foundation

/// The facts about an issued leaf certificate that renewal and the Web UI
/// need, read with libcrypto from the first certificate of a PEM chain.
public struct CertificateInfo: Codable, Equatable, Sendable {
    public var notBefore: Date
    public var notAfter: Date
    /// Contents octets of the DER serial INTEGER (RFC 5280 §4.1.2.2),
    /// including a leading zero when the high bit is set.
    public var serialNumber: [UInt8]
    /// The keyIdentifier of the Authority Key Identifier extension
    /// (RFC 5280 §4.2.1.1), when present.
    public var authorityKeyIdentifier: [UInt8]?
    /// Issuer and subject in OpenSSL's one-line form, for display.
    public var issuer: String
    public var subject: String

    /// `serialNumber` as uppercase hex, for display.
    public var serialHex: String { serialNumber.map { String(format: "%02X", $0) }.joined() }

    /// Parses the first certificate in `pem`.
    public init(chainPEM pem: String) throws {
        let bytes = Array(pem.utf8)
        let bio = bytes.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
        defer { BIO_free(bio) }
        guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw Self.failure("PEM certificate decoding")
        }
        defer { X509_free(certificate) }

        notBefore = try Self.date(X509_get0_notBefore(certificate))
        notAfter = try Self.date(X509_get0_notAfter(certificate))

        // i2d gives tag, length, contents; the serial is short, so the
        // length is one octet (RFC 5280 §4.1.2.2 caps serials at 20 octets).
        var serialPointer: UnsafeMutablePointer<UInt8>?
        let serialLength = i2d_ASN1_INTEGER(X509_get0_serialNumber(certificate), &serialPointer)
        guard serialLength > 2, let serialPointer else { throw Self.failure("serial number encoding") }
        let serialDER = Array(UnsafeBufferPointer(start: serialPointer, count: Int(serialLength)))
        CRYPTO_free(serialPointer, #fileID, #line)
        guard Int(serialDER[1]) == serialDER.count - 2 else { throw Self.failure("serial number length") }
        serialNumber = Array(serialDER[2...])

        if let keyIdentifier = X509_get0_authority_key_id(certificate) {
            let length = Int(ASN1_STRING_length(keyIdentifier))
            authorityKeyIdentifier = Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(keyIdentifier), count: length))
        }

        issuer = Self.oneLine(X509_get_issuer_name(certificate))
        subject = Self.oneLine(X509_get_subject_name(certificate))
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) throws -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { throw failure("validity time") }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    private static func oneLine(_ name: OpaquePointer?) -> String {
        guard let name, let text = X509_NAME_oneline(name, nil, 0) else { return "" }
        defer { CRYPTO_free(text, #fileID, #line) }
        return String(cString: text)
    }

    private static func failure(_ step: String) -> ACMEError {
        .cryptoFailed(operation: "certificate \(step)", detail: LibCryptoError.drain())
    }
}
