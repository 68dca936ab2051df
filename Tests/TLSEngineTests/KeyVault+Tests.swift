import Foundation
import Testing
@testable import TLSEngine

@Suite("Key vault")
struct KeyVaultTests {
    static let algorithms: [KeyAlgorithm] = [.ecdsaP256, .ecdsaP384, .ed25519, .rsa(bits: 2048)]

    @Test(arguments: algorithms)
    func generatedKeysSignAndVerify(algorithm: KeyAlgorithm) throws {
        let vault = try KeyVault(storage: .memory, profile: .production)
        let handle = try vault.generate(algorithm, purpose: .tlsServer, id: "k")
        #expect(handle.algorithm == algorithm)
        let message = Array("to be signed".utf8)
        for scheme in algorithm.signatureSchemes {
            let signature = try handle.sign(scheme, message: message, purpose: .tlsServer)
            #expect(handle.key.verify(scheme, message: message, signature: signature, provider: .shared))
            #expect(!handle.key.verify(scheme, message: message + [0], signature: signature, provider: .shared))
        }
    }

    @Test func signatureVerifiesWithOpenSSL() throws {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let handle = try vault.generate(.ecdsaP384, purpose: .acmeAccount, id: "account")
        let message = Array("checked by the openssl tool".utf8)
        let signature = try handle.sign(.ecdsaSecp384r1SHA384, message: message, purpose: .acmeAccount)
        let fixtures = try CertificateFixtures()
        let dir = fixtures.directory
        try Data(message).write(to: URL(fileURLWithPath: dir + "/message"))
        try Data(signature).write(to: URL(fileURLWithPath: dir + "/signature"))
        try Data(handle.publicKeyDER()).write(to: URL(fileURLWithPath: dir + "/public.der"))
        let result = try PeerProcess.run("/usr/bin/openssl", ["dgst", "-sha384", "-verify", dir + "/public.der",
                                                              "-keyform", "DER", "-signature", dir + "/signature",
                                                              dir + "/message"])
        #expect(result.output.contains("Verified OK"), "\(result.output)")
    }

    @Test func handleRejectsOtherPurpose() throws {
        let vault = try KeyVault(storage: .memory, profile: .production)
        let handle = try vault.generate(.ecdsaP256, purpose: .acmeAccount, id: "account")
        #expect(throws: KeyVaultError.wrongPurpose(id: "account", keyPurpose: .acmeAccount, requested: .tlsServer)) {
            try handle.sign(.ecdsaSecp256r1SHA256, message: [1], purpose: .tlsServer)
        }
        #expect(throws: KeyVaultError.self) { try vault.handle(id: "account", purpose: .tlsServer) }
        #expect(try vault.handle(id: "account", purpose: .acmeAccount).id == "account")
    }

    @Test func certifiedKeyRejectsNonServerKey() throws {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let fixtures = try CertificateFixtures()
        let paths = try fixtures.make(.ecdsaP256)
        let key = try vault.importPEM(try String(contentsOfFile: paths.key, encoding: .utf8), purpose: .acmeAccount, id: "a")
        let chain = try CertificateChain(pem: try String(contentsOfFile: paths.certificate, encoding: .utf8))
        #expect(throws: KeyVaultError.self) { try CertifiedKey(chain: chain, key: key) }
        let otherKey = try vault.generate(.ecdsaP256, purpose: .tlsServer, id: "other")
        #expect(throws: KeyVaultError.self) { try CertifiedKey(chain: chain, key: otherKey) }
    }

    @Test func listAndDestroy() throws {
        let vault = try KeyVault(storage: .memory, profile: .production)
        _ = try vault.generate(.ed25519, purpose: .tlsServer, id: "b")
        _ = try vault.generate(.ecdsaP256, purpose: .acmeAccount, id: "a")
        #expect(vault.list() == [KeyInfo(id: "a", algorithm: .ecdsaP256, purpose: .acmeAccount, source: .generated),
                                 KeyInfo(id: "b", algorithm: .ed25519, purpose: .tlsServer, source: .generated)])
        try vault.destroy(id: "a")
        #expect(vault.list().map(\.id) == ["b"])
        #expect(throws: KeyVaultError.notFound(id: "a")) { try vault.destroy(id: "a") }
    }

    @Test func directoryStorageIsPKCS8Mode0600AndReloads() throws {
        let fixtures = try CertificateFixtures()
        let directory = fixtures.directory + "/keys"
        let vault = try KeyVault(storage: .directory(directory), profile: .production)
        let handle = try vault.generate(.ecdsaP256, purpose: .tlsServer, id: "web")
        let path = directory + "/web.pem"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("-----BEGIN PRIVATE KEY-----"))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["web.pem"])

        // openssl reads the file as a PKCS#8 key.
        let check = try PeerProcess.run("/usr/bin/openssl", ["pkey", "-in", path, "-noout", "-text"])
        #expect(check.status == 0, "\(check.output)")

        let reopened = try KeyVault(storage: .directory(directory), profile: .production)
        let again = try reopened.handle(id: "web", purpose: .tlsServer)
        #expect(again.publicKeyDER() == handle.publicKeyDER())
        try reopened.destroy(id: "web")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func developmentKeysRejectedInProduction() throws {
        let fixtures = try CertificateFixtures()
        let pem = try String(contentsOfFile: try fixtures.make(.ecdsaP256).key, encoding: .utf8)
        let production = try KeyVault(storage: .memory, profile: .production)
        #expect(throws: KeyVaultError.developmentKeyInProduction(id: "dev")) {
            try production.importPEM(pem, purpose: .tlsServer, id: "dev", source: .development)
        }

        let directory = fixtures.directory + "/keys"
        let development = try KeyVault(storage: .directory(directory), profile: .development)
        _ = try development.importPEM(pem, purpose: .tlsServer, id: "dev", source: .development)
        #expect(throws: KeyVaultError.developmentKeyInProduction(id: "dev")) {
            try KeyVault(storage: .directory(directory), profile: .production)
        }
    }

    @Test func invalidKeyIDRejected() throws {
        let vault = try KeyVault(storage: .memory, profile: .production)
        #expect(throws: KeyVaultError.self) { try vault.generate(.ed25519, purpose: .tlsServer, id: "../escape") }
    }
}
