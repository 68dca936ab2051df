import CLibCrypto
import Foundation

/// Builds a PKCS#10 certificate request (RFC 2986) for the finalize step
/// (RFC 8555 §7.4): DNS names and IP addresses (RFC 8738 §3) as
/// subjectAltName entries, signed through `CertificateRequestSigner` so the
/// private key can stay in a vault.
public enum CertificateSigningRequest {
    /// RFC 2986 §4.1: version 1 is encoded as 0.
    static let version1: Int = 0
    /// Maximum length of a commonName (RFC 5280 Appendix A, ub-common-name).
    static let maxCommonNameLength = 64
    /// ASN.1 tags of the outer `CertificationRequest` (X.690 §8.6, §8.9).
    static let sequenceTag: UInt8 = 0x30
    static let bitStringTag: UInt8 = 0x03

    /// Returns the DER request. The subject is CN=<first DNS name> when that
    /// name fits a commonName, and empty otherwise; every identifier is a SAN.
    public static func build(identifiers: [ACMEIdentifier], signer: CertificateRequestSigner) throws -> [UInt8] {
        guard !identifiers.isEmpty else { throw ACMEError.invalidConfiguration("a CSR needs at least one identifier") }

        // 1. The request with version and public key.
        guard let request = X509_REQ_new() else { throw failure("X509_REQ_new") }
        defer { X509_REQ_free(request) }
        let publicKey = signer.subjectPublicKeyInfo.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let publicKey else { throw failure("SubjectPublicKeyInfo decoding") }
        defer { EVP_PKEY_free(publicKey) }
        guard X509_REQ_set_version(request, version1) == 1, X509_REQ_set_pubkey(request, publicKey) == 1 else {
            throw failure("X509_REQ setup")
        }

        // 2. The subject: the first DNS name as commonName, for old software that reads it.
        if let name = identifiers.first(where: { $0.type == "dns" })?.value, name.utf8.count <= maxCommonNameLength {
            guard let subject = X509_REQ_get_subject_name(request),
                  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, name, -1, -1, 0) == 1 else {
                throw failure("subject commonName")
            }
        }

        // 3. The subjectAltName extension inside an extensionRequest attribute.
        let alternativeNames = try identifiers.map(subjectAltNameEntry).joined(separator: ",")
        guard let extensionValue = X509V3_EXT_conf_nid(nil, nil, NID_subject_alt_name, alternativeNames) else {
            throw failure("subjectAltName extension")
        }
        defer { X509_EXTENSION_free(extensionValue) }
        guard let extensions = OPENSSL_sk_new_null() else { throw failure("extension stack") }
        defer { OPENSSL_sk_free(extensions) }
        guard OPENSSL_sk_push(extensions, UnsafeRawPointer(extensionValue)) > 0,
              X509_REQ_add_extensions(request, extensions) == 1 else {
            throw failure("extensionRequest attribute")
        }

        // 4. The DER CertificationRequestInfo, signed by the certificate key.
        var infoPointer: UnsafeMutablePointer<UInt8>?
        let infoLength = i2d_re_X509_REQ_tbs(request, &infoPointer)
        guard infoLength > 0, let infoPointer else { throw failure("CertificationRequestInfo encoding") }
        let info = Array(UnsafeBufferPointer(start: infoPointer, count: Int(infoLength)))
        CRYPTO_free(infoPointer, #fileID, #line)
        let signature = try signer.signX509(info)

        // 5. CertificationRequest ::= SEQUENCE { info, signatureAlgorithm,
        //    signature BIT STRING } (RFC 2986 §4.2); no unused bits.
        let bitString = DER.encode(tag: bitStringTag, contents: [0] + signature)
        return DER.encode(tag: sequenceTag, contents: info + signer.signatureAlgorithmIdentifier + bitString)
    }

    /// Returns the OpenSSL configuration text of one SAN entry. Values are checked
    /// first, because a comma or colon would inject another entry.
    static func subjectAltNameEntry(_ identifier: ACMEIdentifier) throws -> String {
        switch identifier.type {
        case "dns":
            let allowed = identifier.value.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "*": true
                default: false
                }
            }
            guard allowed, !identifier.value.isEmpty else {
                throw ACMEError.invalidConfiguration("invalid DNS identifier \"\(identifier.value)\"; use an ASCII (A-label) name")
            }
            return "DNS:" + identifier.value
        case "ip":
            var ipv4 = in_addr()
            var ipv6 = in6_addr()
            guard inet_pton(AF_INET, identifier.value, &ipv4) == 1 || inet_pton(AF_INET6, identifier.value, &ipv6) == 1 else {
                throw ACMEError.invalidConfiguration("invalid IP identifier \"\(identifier.value)\"")
            }
            return "IP:" + identifier.value
        default:
            throw ACMEError.invalidConfiguration("unsupported identifier type \"\(identifier.type)\"; use dns or ip")
        }
    }

    private static func failure(_ step: String) -> ACMEError {
        .cryptoFailed(operation: "CSR \(step)", detail: LibCryptoError.drain())
    }
}

/// DER tag-length-value encoding (X.690 §8.1) for the few outer structures
/// this module assembles itself.
enum DER {
    /// X.690 §8.1.3.5: long-form length lengths are flagged with the high bit.
    static let longFormLengthFlag: UInt8 = 0x80

    static func encode(tag: UInt8, contents: [UInt8]) -> [UInt8] {
        [tag] + encodeLength(contents.count) + contents
    }

    static func encodeLength(_ length: Int) -> [UInt8] {
        if length < Int(longFormLengthFlag) { return [UInt8(length)] }
        var octets: [UInt8] = []
        var remaining = length
        while remaining > 0 {
            octets.insert(UInt8(remaining & 0xFF), at: 0)
            remaining >>= 8
        }
        return [longFormLengthFlag | UInt8(octets.count)] + octets
    }
}
