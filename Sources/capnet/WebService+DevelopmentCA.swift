import CapnetBase
import Foundation
import TLSEngine
import WebUI

extension WebService {
    /// Issues the HTTPS certificate from the development CA kept in the state
    /// directory, for every `--domain` and the stack's own address. The CA
    /// certificate is `DIR/ca.pem`; the leaf is issued afresh at each start.
    static func issueDevelopmentCertificate(configuration: ServeConfiguration, stateDirectory: String) throws
        -> (CertifiedKey, CertificateStatus)
    {
        let log = Logger(.tls)
        let vault = try KeyVault(storage: .directory(stateDirectory + "/keys"), profile: .development)
        let now = wallClockNanoseconds() / 1_000_000_000
        let authority = try DevelopmentCA.loadOrCreate(stateDirectory: stateDirectory, vault: vault,
                                                       profile: .development, now: now)
        if authority.created {
            log.notice("created a development CA; trust it with curl --cacert \(authority.certificatePath)",
                       "fingerprint=\(authority.fingerprintSHA256)")
        }
        let address = configuration.address.address.description
        let certified = try authority.issueCertifiedKey(dnsNames: configuration.domains, ipAddresses: [address],
                                                        vault: vault, now: now)
        let subject = configuration.domains.first ?? address
        let status = CertificateStatus(
            subject: "CN=\(subject)", issuer: "capnet development CA",
            subjectAlternativeNames: configuration.domains.map { "DNS:\($0)" } + ["IP:\(address)"],
            notAfter: Date(timeIntervalSince1970: TimeInterval(now) + DevelopmentCA.defaultLeafValidity.seconds),
            source: .developmentCA)
        log.info("issued the HTTPS certificate from the development CA",
                 "names=\(status.subjectAlternativeNames.joined(separator: ","))")
        return (certified, status)
    }
}
