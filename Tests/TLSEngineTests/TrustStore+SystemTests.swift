import Foundation
import Testing
@testable import TLSEngine

/// The client's trust store loaded from the system bundle (Debian ca-certificates).
@Suite struct TrustStoreSystemTests {
    @Test func systemBundleLoads() throws {
        _ = try TrustStore.system()
    }

    @Test func systemBundleRejectsPrivateCA() throws {
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let pem = try String(contentsOfFile: paths.certificate, encoding: .utf8)
        let chain = try CertificateChain(pem: pem)
        let now = Int64(Date().timeIntervalSince1970)

        // A self-signed test certificate is not in the system bundle.
        let system = try TrustStore.system()
        #expect(throws: TLSError.self) {
            _ = try system.verify(chain: chain.certificates, serverName: "localhost", time: now)
        }

        // The same chain verifies once its certificate is trusted explicitly.
        let own = try TrustStore(pem: pem)
        _ = try own.verify(chain: chain.certificates, serverName: "localhost", time: now)
    }

    @Test func missingBundleNamesPath() {
        #expect(throws: KeyVaultError.self) {
            _ = try TrustStore.system(path: "/nonexistent/ca-bundle.crt")
        }
    }
}
