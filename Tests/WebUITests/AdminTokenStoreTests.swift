// The admin token file: created with mode 0600 in a 0700 directory, read
// back unchanged on the next start, and rejected with the fix when its
// mode is wrong. Modes are read back with stat(2), not from our own code.
import Foundation
import Testing
@testable import WebUI
#if canImport(Glibc)
import Glibc
#endif

@Suite struct AdminTokenStoreTests {
    /// Returns a fresh path under the system temporary directory; the caller removes it.
    private func temporaryDirectory() throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("capnet-token-\(UUID().uuidString)")
        return base.path
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return info.st_mode & 0o7777
    }

    @Test func createsThenReusesToken() throws {
        let directory = try temporaryDirectory() + "/state"
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (directory as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let first = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
        #expect(first.created)
        #expect(first.path == directory + "/admin-token")
        #expect(mode(directory) == 0o700)
        #expect(mode(first.path) == 0o600)
        // 256 bits as unpadded base64url: 43 characters of the RFC 4648 §5 alphabet.
        let value = first.token.value
        #expect(value.count == 43)
        let alphabet = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(value.unicodeScalars.allSatisfy { alphabet.contains($0) })
        let decoded = Data(base64Encoded: value.replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/") + "=")
        #expect(decoded?.count == 32)
        // The file contains the token and a line feed, and no temporary file is left.
        let content = try String(contentsOfFile: first.path, encoding: .utf8)
        #expect(content == value + "\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["admin-token"])

        let second = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
        #expect(!second.created)
        #expect(second.token.value == value)
        #expect(second.token.matches(value))
        #expect("\(second.token)" == "AdminToken(redacted)")
    }

    @Test func twoDirectoriesGetDifferentTokens() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let a = try AdminTokenStore.loadOrCreate(stateDirectory: root + "/a")
        let b = try AdminTokenStore.loadOrCreate(stateDirectory: root + "/b")
        #expect(a.token.value != b.token.value)
    }

    @Test func rejectsTokenFileReadableByOthers() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loaded = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
        #expect(chmod(loaded.path, 0o644) == 0)
        do {
            _ = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
            Issue.record("a 0644 token file was accepted")
        } catch {
            #expect(error.description.contains("mode 0644"))
            #expect(error.description.contains("chmod 600 \(loaded.path)"))
            #expect(!error.description.contains(loaded.token.value))
        }
    }

    @Test func rejectsStateDirectoryOpenToOthers() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
        #expect(chmod(directory, 0o755) == 0)
        do {
            _ = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
            Issue.record("a 0755 state directory was accepted")
        } catch {
            #expect(error.description.contains("chmod 700 \(directory)"))
        }
    }

    @Test func rejectsMalformedTokenFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loaded = try AdminTokenStore.loadOrCreate(stateDirectory: directory)
        try "short\n".write(toFile: loaded.path, atomically: false, encoding: .utf8)
        #expect(chmod(loaded.path, 0o600) == 0)
        #expect(throws: AdminTokenError.self) { try AdminTokenStore.loadOrCreate(stateDirectory: directory) }
    }
}
