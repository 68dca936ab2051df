import TLSEngine
import WebUI

extension WebService {
    static func issueDevelopmentCertificate(configuration: ServeConfiguration, stateDirectory: String) throws
        -> (CertifiedKey, CertificateStatus)
    {
        throw UsageError("the development CA is not available yet: give --cert FILE --key FILE")
    }
}
