import CapnetBase
import Foundation
import Testing
@testable import TLSEngine

/// A state directory with a directory-backed vault, and the openssl tool to judge what the CA writes.
final class DevelopmentCAFixture: @unchecked Sendable {
    let fixtures: CertificateFixtures
    var directory: String { fixtures.directory }
    var keyDirectory: String { directory + "/keys" }
    var caPath: String { directory + "/" + DevelopmentCA.certificateFileName }

    init() throws { fixtures = try CertificateFixtures() }

    func vault(_ profile: VaultProfile = .development) throws -> KeyVault {
        try KeyVault(storage: .directory(keyDirectory), profile: profile)
    }

    /// Writes `der` as PEM through `openssl x509` and returns the path.
    func writePEM(_ der: [UInt8], name: String) throws -> String {
        let derPath = directory + "/" + name + ".der"
        let pemPath = directory + "/" + name + ".pem"
        try Data(der).write(to: URL(fileURLWithPath: derPath))
        let result = try openssl(["x509", "-inform", "DER", "-in", derPath, "-out", pemPath])
        guard result.status == 0 else { throw FixtureError("openssl x509 failed: \(result.output)") }
        return pemPath
    }

    func openssl(_ arguments: [String]) throws -> (status: Int32?, output: String) {
        try runTool("/usr/bin/openssl", arguments)
    }

    /// Runs a tool to completion with stdin from /dev/null and its output in a file.
    /// The tool is killed after `timeout`, and then the status is nil.
    ///
    /// Unlike `PeerProcess.run`, this waits for the exit only, not for the end of an
    /// output pipe, because with suites running in parallel that end was seen to
    /// arrive only at the 15 s deadline.
    func runTool(_ executable: String, _ arguments: [String],
                 timeout: TimeInterval = 15) throws -> (status: Int32?, output: String) {
        let outputPath = directory + "/tool-output-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        try output.close()
        var status: Int32?
        if exited.wait(timeout: .now() + timeout) == .success {
            status = process.terminationStatus
        } else {
            process.terminate()
            _ = exited.wait(timeout: .now() + timeout)
        }
        let text = try String(contentsOfFile: outputPath, encoding: .utf8)
        return (status, text)
    }

    /// Returns the text openssl prints for a PEM certificate.
    func text(_ path: String) throws -> String {
        try openssl(["x509", "-in", path, "-noout", "-text"]).output
    }

    func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }
}

/// Returns the wall-clock time in seconds, for certificates that openssl checks against its own clock.
func wallClockSeconds() -> Int64 { wallClockNanoseconds() / 1_000_000_000 }

@Suite("Development CA", .serialized)
struct DevelopmentCATests {
    /// 2023-11-14 22:13:20 UTC; `date -u -d @1700000000` gives the expected dates below.
    static let fixedNow: Int64 = 1_700_000_000

    @Test func caCertificateFields() throws {
        let fixture = try DevelopmentCAFixture()
        let ca = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                profile: .development, now: Self.fixedNow)
        #expect(ca.created)
        #expect(ca.certificatePath == fixture.caPath)
        let text = try fixture.text(fixture.caPath)
        #expect(text.contains("Version: 3 (0x2)"), "\(text)")
        #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"), "\(text)")
        #expect(text.contains("Issuer: CN = capnet development CA "), "\(text)")
        #expect(text.contains("Subject: CN = capnet development CA "), "\(text)")
        #expect(text.contains("ASN1 OID: prime256v1"), "\(text)")
        #expect(text.contains("Not Before: Nov 14 21:13:20 2023 GMT"), "\(text)")
        #expect(text.contains("Not After : Nov 13 22:13:20 2033 GMT"), "\(text)")
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"), "\(text)")
        #expect(text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"), "\(text)")
        #expect(text.contains("X509v3 Subject Key Identifier:"), "\(text)")

        // The issuer and subject lines carry the same random identifier.
        let names = text.split(separator: "\n").filter { $0.contains("Issuer:") || $0.contains("Subject:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1] }
        #expect(names.count == 2, "\(text)")
        #expect(names.first == names.last, "\(names)")

        let serial = try fixture.openssl(["x509", "-in", fixture.caPath, "-noout", "-serial"]).output
        let serialHex = serial.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
        #expect(serialHex.count == 32, "\(serial)")
        #expect(UInt8(serialHex.prefix(2), radix: 16).map { $0 < 0x80 } == true, "\(serial)")

        let selfCheck = try fixture.openssl(["verify", "-attime", "\(Self.fixedNow)", "-CAfile", fixture.caPath,
                                             fixture.caPath])
        #expect(selfCheck.status == 0, "\(selfCheck.output)")
    }

    @Test func filesAndModes() throws {
        let fixture = try DevelopmentCAFixture()
        _ = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                           profile: .development, now: wallClockSeconds())
        #expect(try fixture.mode(fixture.caPath) == 0o644)
        let keyPath = fixture.keyDirectory + "/" + DevelopmentCA.keyID + ".pem"
        #expect(try fixture.mode(keyPath) == 0o600)
        let keyText = try String(contentsOfFile: keyPath, encoding: .utf8)
        #expect(keyText.contains("purpose: development-ca"))
        #expect(keyText.contains("-----BEGIN PRIVATE KEY-----"))
        // The key in the vault is the CA certificate's key, as openssl compares them.
        let keyPublic = try fixture.openssl(["pkey", "-in", keyPath, "-pubout"]).output
        let certificatePublic = try fixture.openssl(["x509", "-in", fixture.caPath, "-noout", "-pubkey"]).output
        #expect(keyPublic.contains("BEGIN PUBLIC KEY"), "\(keyPublic)")
        #expect(keyPublic == certificatePublic)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.directory).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func restartReusesCA() throws {
        let fixture = try DevelopmentCAFixture()
        let now = wallClockSeconds()
        let first = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                   profile: .development, now: now)
        let fingerprintCommand = ["x509", "-in", fixture.caPath, "-noout", "-fingerprint", "-sha256"]
        let before = try fixture.openssl(fingerprintCommand).output

        // A second run opens the vault again from its directory, as a restarted server does.
        let second = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                    profile: .development, now: now + 86_400)
        let after = try fixture.openssl(fingerprintCommand).output
        #expect(!second.created)
        #expect(before.contains("Fingerprint="), "\(before)")
        #expect(before == after)
        #expect(before.contains(second.fingerprintSHA256), "\(before) \(second.fingerprintSHA256)")
        #expect(first.certificateDER == second.certificateDER)
        #expect(first.key.publicKeyDER() == second.key.publicKeyDER())
    }

    @Test func expiredCAIsReplaced() throws {
        let fixture = try DevelopmentCAFixture()
        let first = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                   profile: .development, now: Self.fixedNow)
        let elevenYears: Int64 = 11 * 366 * 86_400
        let second = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                    profile: .development, now: Self.fixedNow + elevenYears)
        #expect(second.created)
        #expect(first.fingerprintSHA256 != second.fingerprintSHA256)
        #expect(first.key.publicKeyDER() != second.key.publicKeyDER())
        let text = try fixture.text(fixture.caPath)
        #expect(!text.contains("Not Before: Nov 14 21:13:20 2023 GMT"), "\(text)")
    }

    enum Damage: String, CaseIterable, Sendable {
        case certificateMissing, certificateGarbled, certificateOfOtherCA, keyMissing
    }

    @Test(arguments: Damage.allCases)
    func damagedStateIsReplaced(damage: Damage) throws {
        let fixture = try DevelopmentCAFixture()
        let now = wallClockSeconds()
        let first = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                   profile: .development, now: now)
        switch damage {
        case .certificateMissing:
            try FileManager.default.removeItem(atPath: fixture.caPath)
        case .certificateGarbled:
            try "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                .write(toFile: fixture.caPath, atomically: true, encoding: .utf8)
        case .certificateOfOtherCA:
            let other = try DevelopmentCAFixture()
            _ = try DevelopmentCA.loadOrCreate(stateDirectory: other.directory, vault: try other.vault(),
                                               profile: .development, now: now)
            try FileManager.default.removeItem(atPath: fixture.caPath)
            try FileManager.default.copyItem(atPath: other.caPath, toPath: fixture.caPath)
        case .keyMissing:
            try FileManager.default.removeItem(atPath: fixture.keyDirectory + "/" + DevelopmentCA.keyID + ".pem")
        }

        let second = try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(),
                                                    profile: .development, now: now)
        #expect(second.created)
        #expect(second.fingerprintSHA256 != first.fingerprintSHA256)
        // The new ca.pem certifies the key now in the vault, as openssl compares them.
        let keyPath = fixture.keyDirectory + "/" + DevelopmentCA.keyID + ".pem"
        let keyPublic = try fixture.openssl(["pkey", "-in", keyPath, "-pubout"]).output
        let certificatePublic = try fixture.openssl(["x509", "-in", fixture.caPath, "-noout", "-pubkey"]).output
        #expect(keyPublic.contains("BEGIN PUBLIC KEY"), "\(keyPublic)")
        #expect(keyPublic == certificatePublic)
        #expect(try fixture.mode(fixture.caPath) == 0o644)
    }

    @Test func productionProfileRejected() throws {
        let fixture = try DevelopmentCAFixture()
        #expect(throws: DevelopmentCAError.productionProfile) {
            try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(.production),
                                           profile: .production, now: Self.fixedNow)
        }
        #expect(throws: DevelopmentCAError.productionProfile) {
            try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: try fixture.vault(.production),
                                           profile: .development, now: Self.fixedNow)
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.caPath))
        #expect(try fixture.vault(.production).list().isEmpty)
        let message = DevelopmentCAError.productionProfile.description
        #expect(message.contains("--cert"))
        #expect(message.contains("--key"))
        #expect(message.contains("ACME"))
    }

    @Test func serverKeyCannotSignCertificates() throws {
        let fixture = try DevelopmentCAFixture()
        let vault = try fixture.vault()
        let serverKey = try vault.generate(.ecdsaP256, purpose: .tlsServer, id: "server")
        let template = CertificateTemplate(subjectCommonName: "forged", notBefore: Self.fixedNow,
                                           notAfter: Self.fixedNow + 60, subjectPublicKey: serverKey.publicKeyDER(),
                                           extensions: [])
        #expect(throws: KeyVaultError.wrongPurpose(id: "server", keyPurpose: .tlsServer, requested: .developmentCA)) {
            try DevelopmentCA.makeCertificate(template, issuer: nil, signer: serverKey, provider: .shared)
        }
    }

    @Test func vaultKeyOfOtherPurposeUnderCAIdRejected() throws {
        let fixture = try DevelopmentCAFixture()
        let vault = try fixture.vault()
        _ = try vault.generate(.ecdsaP256, purpose: .tlsServer, id: DevelopmentCA.keyID)
        #expect(throws: KeyVaultError.wrongPurpose(id: DevelopmentCA.keyID, keyPurpose: .tlsServer,
                                                   requested: .developmentCA)) {
            try DevelopmentCA.loadOrCreate(stateDirectory: fixture.directory, vault: vault,
                                           profile: .development, now: Self.fixedNow)
        }
    }
}
