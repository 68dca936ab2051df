import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The persisted account: enough to reuse it after a restart without a
/// newAccount request.
public struct ACMEAccountRecord: Codable, Equatable, Sendable {
    public var directoryURL: String
    public var accountURL: String
    /// The signer's `keyReference`; the key itself is never written here.
    public var keyReference: String
    /// RFC 7638 thumbprint of the account key, to notice a swapped key.
    public var keyThumbprint: String
}

/// The persisted certificate: what was issued, for which identifiers, and
/// when it is due for renewal. The chain itself is in `certificate.pem`.
public struct ACMECertificateRecord: Codable, Equatable, Sendable {
    public var directoryURL: String
    public var identifiers: [ACMEIdentifier]
    public var certificateURL: String
    public var info: CertificateInfo
    /// The ARI certificate identifier, when the leaf has an AKI.
    public var renewalIdentifier: String?
    /// When renewal is due, and how that time was chosen.
    public var renewalTime: Date
    public var renewalSource: ACMERenewalSource
}

/// The rule that chose a renewal time.
public enum ACMERenewalSource: String, Codable, Sendable {
    /// Inside the CA's suggested window (RFC 9773).
    case renewalInfo
    /// Two thirds of the validity period.
    case lifetimeFraction
}

/// Files under a state directory, each written atomically with mode 0600:
/// `account.json`, `certificate.json` and `certificate.pem`.
public final class ACMEStateStore {
    public let directory: String
    static let accountFile = "account.json"
    static let certificateFile = "certificate.json"
    static let chainFile = "certificate.pem"
    /// Owner-only permissions: the files name the account and its key.
    static let fileMode: mode_t = 0o600
    static let directoryMode: mode_t = 0o700

    public init(directory: String) throws {
        self.directory = directory
        if mkdir(directory, Self.directoryMode) != 0 && errno != EEXIST {
            throw ACMEError.stateStoreFailed(path: directory, detail: String(cString: strerror(errno)))
        }
    }

    public var chainPath: String { path(Self.chainFile) }

    public func loadAccount() throws -> ACMEAccountRecord? { try load(ACMEAccountRecord.self, Self.accountFile) }
    public func saveAccount(_ record: ACMEAccountRecord) throws { try save(record, Self.accountFile) }

    /// Deletes the account record, so the next run looks the account up again.
    public func removeAccount() throws {
        let file = path(Self.accountFile)
        guard unlink(file) == 0 || errno == ENOENT else { throw Self.failure(file, "unlink") }
    }
    public func loadCertificate() throws -> ACMECertificateRecord? {
        try load(ACMECertificateRecord.self, Self.certificateFile)
    }

    /// Writes the chain first and the record second, so a record never
    /// describes a chain that is not on disk.
    public func saveCertificate(_ record: ACMECertificateRecord, chainPEM: String) throws {
        try Self.writeAtomically(Array(chainPEM.utf8), to: chainPath)
        try save(record, Self.certificateFile)
    }

    /// Rewrites the record alone, for a changed renewal schedule.
    public func saveCertificateRecord(_ record: ACMECertificateRecord) throws {
        try save(record, Self.certificateFile)
    }

    public func loadChainPEM() throws -> String? {
        guard FileManager.default.fileExists(atPath: chainPath) else { return nil }
        guard let data = FileManager.default.contents(atPath: chainPath) else {
            throw ACMEError.stateStoreFailed(path: chainPath, detail: "cannot read the file")
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    private func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
        let file = path(name)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ACMEError.stateStoreFailed(path: file, detail: "cannot read the file")
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: data)
        } catch {
            throw ACMEError.stateStoreFailed(path: file, detail: "invalid content: \(error)")
        }
    }

    private func save<T: Encodable>(_ value: T, _ name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        try Self.writeAtomically(Array(try encoder.encode(value)), to: path(name))
    }

    /// Writes `bytes` to a temporary file beside `path` with mode 0600,
    /// flushes it, renames it over `path` and flushes the directory, so a
    /// crash leaves either the old or the new file.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw failure(temporary, "open") }

        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                // The loop runs only while bytes remain, so the buffer is not empty.
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                close(descriptor)
                unlink(temporary)
                throw failure(temporary, "write")
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            close(descriptor)
            unlink(temporary)
            throw failure(temporary, "fsync")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure(path, "rename")
        }

        let parent = (path as NSString).deletingLastPathComponent
        let directoryDescriptor = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func failure(_ path: String, _ call: String) -> ACMEError {
        .stateStoreFailed(path: path, detail: "\(call) failed: \(String(cString: strerror(errno)))")
    }
}
