import CLibCrypto

/// An owned libcrypto `X509` certificate, freed with its owner.
final class X509Certificate: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_free(pointer) }

    /// Parses the first `CERTIFICATE` block of `pem`.
    convenience init(pem: String) throws {
        let chain = try CertificateChain(pem: pem)
        try self.init(der: chain.certificates[0]) // CertificateChain(pem:) throws when there is no block.
    }

    convenience init(der: [UInt8]) throws {
        let pointer = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        ERR_clear_error()
        guard let pointer else { throw DevelopmentCAError.certificateBuild("parsing DER") }
        self.init(taking: pointer)
    }

    var der: [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(pointer, &output)
        guard length > 0, let output else { return [] }
        defer { CRYPTO_free(output, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    func pem() throws -> String {
        guard let bio = capnet_certificate_pem(pointer) else { throw DevelopmentCAError.certificateBuild("PEM encoding") }
        defer { BIO_free(bio) }
        var data: UnsafePointer<CChar>?
        let length = capnet_bio_contents(bio, &data)
        guard length > 0, let data else { throw DevelopmentCAError.certificateBuild("PEM encoding") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// Whether `now`, in seconds since the Unix epoch, is before notAfter.
    func isUnexpired(at now: Int64) -> Bool {
        var time = time_t(now)
        guard let notAfter = X509_get0_notAfter(pointer) else { return false }
        // X509_cmp_time returns -1 when notAfter is earlier than `time`, and 0 on error.
        return X509_cmp_time(notAfter, &time) > 0
    }
}

/// The fields of a certificate to build and sign.
struct CertificateTemplate {
    var subjectCommonName: String
    /// Seconds since the Unix epoch.
    var notBefore: Int64
    var notAfter: Int64
    /// DER SubjectPublicKeyInfo of the key the certificate certifies.
    var subjectPublicKey: [UInt8]
    /// Each extension's NID and value in openssl x509v3_config syntax, added in order.
    var extensions: [(nid: Int32, value: String)]
}

extension DevelopmentCA {
    /// RFC 5280 §4.1.2.1: the version field is 2 for a v3 certificate.
    static let x509Version3 = 2
    /// Serial number length in bytes: 128 bits, within RFC 5280 §4.1.2.2's 20-octet limit.
    static let serialLength = 16

    /// Builds the certificate `template` describes, issued by `issuer` (nil for
    /// self-signed) and signed with `signer`.
    static func makeCertificate(_ template: CertificateTemplate, issuer: X509Certificate?,
                                signer: KeyHandle, provider: CryptoProvider) throws -> X509Certificate {
        guard let pointer = X509_new() else { throw DevelopmentCAError.certificateBuild("X509_new") }
        let certificate = X509Certificate(taking: pointer)
        defer { ERR_clear_error() }

        guard X509_set_version(pointer, x509Version3) == 1 else {
            throw DevelopmentCAError.certificateBuild("setting the version")
        }
        try setRandomSerial(pointer, provider: provider)

        guard let subject = capnet_x509_name_common_name(template.subjectCommonName) else {
            throw DevelopmentCAError.certificateBuild("subject name \(template.subjectCommonName)")
        }
        defer { X509_NAME_free(subject) }
        let issuerName = issuer.map { X509_get_subject_name($0.pointer) } ?? subject
        guard X509_set_subject_name(pointer, subject) == 1, X509_set_issuer_name(pointer, issuerName) == 1 else {
            throw DevelopmentCAError.certificateBuild("setting the names")
        }

        // ASN1_TIME_set picks UTCTime through 2049 and GeneralizedTime after, as RFC 5280 §4.1.2.5 requires.
        guard ASN1_TIME_set(X509_getm_notBefore(pointer), time_t(template.notBefore)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(pointer), time_t(template.notAfter)) != nil else {
            throw DevelopmentCAError.certificateBuild("setting the validity")
        }

        let publicKey = template.subjectPublicKey.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let publicKey else { throw DevelopmentCAError.certificateBuild("parsing the subject public key") }
        defer { EVP_PKEY_free(publicKey) }
        guard X509_set_pubkey(pointer, publicKey) == 1 else {
            throw DevelopmentCAError.certificateBuild("setting the subject public key")
        }

        // The subject key identifier is added before the authority key identifier reads it.
        for (nid, value) in template.extensions {
            guard capnet_x509_add_extension(pointer, issuer?.pointer ?? pointer, nid, value) == 1 else {
                throw DevelopmentCAError.certificateBuild("extension \(String(cString: OBJ_nid2sn(nid))) = \(value)")
            }
        }

        try signer.signCertificate(pointer, provider: provider)
        return certificate
    }

    /// Sets a random positive serial number of `serialLength` bytes.
    private static func setRandomSerial(_ certificate: OpaquePointer, provider: CryptoProvider) throws {
        var bytes = provider.randomBytes(serialLength)
        // Clearing the top bit keeps the DER INTEGER positive (RFC 5280 §4.1.2.2);
        // setting the next one keeps it nonzero and 16 bytes long.
        bytes[0] = bytes[0] & 0x7f | 0x40
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw DevelopmentCAError.certificateBuild("serial number")
        }
        defer { BN_free(number) }
        guard let serial = BN_to_ASN1_INTEGER(number, nil) else { throw DevelopmentCAError.certificateBuild("serial number") }
        defer { ASN1_INTEGER_free(serial) }
        guard X509_set_serialNumber(certificate, serial) == 1 else { throw DevelopmentCAError.certificateBuild("serial number") }
    }
}

extension KeyHandle {
    /// Signs `certificate` with ECDSA-SHA256 (RFC 5758 §3.2), only with a
    /// development CA key, so a TLS server key can never issue certificates.
    func signCertificate(_ certificate: OpaquePointer, provider: CryptoProvider) throws {
        guard purpose == .developmentCA else {
            throw KeyVaultError.wrongPurpose(id: id, keyPurpose: purpose, requested: .developmentCA)
        }
        guard algorithm == .ecdsaP256 else {
            throw KeyVaultError.invalidKey("development CA key \(id) is \(algorithm), expected ecdsa-p256")
        }
        guard X509_sign(certificate, key.pointer, provider.digest(.sha256)) > 0 else {
            ERR_clear_error()
            throw DevelopmentCAError.certificateBuild("signing with key \(id)")
        }
    }
}
