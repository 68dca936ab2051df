import CLibCrypto
import Foundation
import TLSEngine

/// Checks a downloaded chain before it is stored or served (RFC 8555
/// §7.4.2 leaves this to the client): the leaf certifies our key, covers
/// every identifier of the order, is valid now, and each certificate is
/// signed by the next. The last certificate of the chain is the anchor, so
/// a chain that stops at an intermediate, as CAs send it, verifies too.
public enum ACMEChainVerifier {
    public static func verify(chainPEM: String, identifiers: [ACMEIdentifier], subjectPublicKeyInfo: [UInt8],
                              at time: Date) throws {
        let chain: CertificateChain
        do {
            chain = try CertificateChain(pem: chainPEM)
        } catch {
            throw ACMEError.invalidCertificate("the chain does not parse: \(error)")
        }
        guard chain.certificates.count >= 2, let anchor = chain.certificates.last else {
            throw ACMEError.invalidCertificate("the chain is missing its issuer certificate: the CA sent only the leaf")
        }
        guard try leafPublicKey(chain.certificates[0]) == subjectPublicKeyInfo else {
            throw ACMEError.invalidCertificate("the leaf certifies another public key than the one in our CSR")
        }
        let store = try TrustStore(certificates: [anchor], allowsPartialChain: true)
        for identifier in identifiers {
            do {
                _ = try store.verify(chain: chain.certificates, serverName: identifier.value,
                                     time: Int64(time.timeIntervalSince1970))
            } catch {
                throw ACMEError.invalidCertificate("the chain does not verify for \(identifier): \(error)")
            }
        }
    }

    /// Returns the DER SubjectPublicKeyInfo of a DER certificate.
    static func leafPublicKey(_ der: [UInt8]) throws -> [UInt8] {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let certificate = parsed else {
            throw ACMEError.invalidCertificate("the leaf does not parse: \(LibCryptoError.drain())")
        }
        defer { X509_free(certificate) }
        var output: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(X509_get0_pubkey(certificate), &output)
        guard length > 0, let output else {
            throw ACMEError.invalidCertificate("the leaf's public key does not encode: \(LibCryptoError.drain())")
        }
        defer { CRYPTO_free(output, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}
