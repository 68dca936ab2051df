/// A development CA operation that failed, with the value at fault and what to do.
public enum DevelopmentCAError: Error, Equatable, CustomStringConvertible {
    /// The vault runs under the production profile.
    case productionProfile
    /// Neither a DNS name nor an IP address was requested.
    case noNames
    case invalidDNSName(String)
    case invalidIPAddress(String)
    /// The requested leaf validity in seconds is not positive or exceeds the maximum.
    case invalidValidity(seconds: Int64)
    /// A libcrypto step of building or signing a certificate failed.
    case certificateBuild(String)
    case storage(String)

    public var description: String {
        switch self {
        case .productionProfile:
            "the development CA is only for local runs and the production profile rejects it: "
                + "configure a real certificate with --cert and --key, or use ACME"
        case .noNames:
            "no DNS name or IP address for the server certificate: give at least one"
        case let .invalidDNSName(name):
            "invalid DNS name '\(name)': expected letters, digits and '-' in dot-separated labels of 1 to 63 characters"
        case let .invalidIPAddress(address):
            "invalid IP address '\(address)': expected an IPv4 or IPv6 address literal"
        case let .invalidValidity(seconds):
            "invalid certificate validity of \(seconds) s: expected 1 s to "
                + "\(DevelopmentCA.maximumLeafValidity.value / 1_000_000_000) s"
        case let .certificateBuild(step):
            "building the certificate failed at \(step)"
        case let .storage(reason):
            "development CA storage failed: \(reason)"
        }
    }
}
