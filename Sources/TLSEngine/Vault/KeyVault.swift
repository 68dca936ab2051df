#if canImport(Glibc)
import Glibc
#endif
import CLibCrypto
import Synchronization

/// Where a key came from; the production profile rejects development keys.
public enum KeySource: String, Sendable {
    case generated
    case imported
    /// A fixed or throwaway key for local development, never for production.
    case development
}

/// Which rules the vault enforces.
public enum VaultProfile: Sendable {
    case development
    /// Rejects keys from the development source.
    case production
}

/// A key's public description, safe to list and log.
public struct KeyInfo: Sendable, Equatable {
    public let id: String
    public let algorithm: KeyAlgorithm
    public let purpose: KeyPurpose
    public let source: KeySource
}

/// Private keys behind handles: generates, imports, stores, lists and destroys
/// them. Nothing outside the vault sees private key bytes; on disk each key
/// is a PKCS#8 PEM file of mode 0600, written to a temporary file and renamed
/// into place so a crash never leaves half a key.
public final class KeyVault: Sendable {
    /// Where keys live.
    public enum Storage: Sendable {
        case memory
        /// A directory of `<id>.pem` files, created with mode 0700 if missing.
        case directory(String)
    }

    private struct Entry {
        var handle: KeyHandle
        var source: KeySource
    }

    public let storage: Storage
    public let profile: VaultProfile
    private let entries: Mutex<[String: Entry]>

    /// Key ids: letters, digits, '-', '_' and '.', so an id is always a safe file name.
    static let idCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

    /// Opens a vault, loading every key file of a directory store.
    public init(storage: Storage, profile: VaultProfile) throws {
        self.storage = storage
        self.profile = profile
        var loaded: [String: Entry] = [:]
        if case .directory(let path) = storage {
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw KeyVaultError.storage("cannot create key directory \(path): errno \(errno)")
            }
            for name in try Self.listDirectory(path) where name.hasSuffix(".pem") {
                let id = String(name.dropLast(4))
                let text = try Self.readFile(path + "/" + name)
                let (purpose, source) = Self.parseMetadata(text)
                if profile == .production && source == .development {
                    throw KeyVaultError.developmentKeyInProduction(id: id)
                }
                let key = try Self.parsePrivateKey(text)
                loaded[id] = Entry(handle: KeyHandle(id: id, purpose: purpose, key: key), source: source)
            }
        }
        entries = Mutex(loaded)
    }

    // MARK: Creating keys

    /// Generates a key and stores it.
    public func generate(_ algorithm: KeyAlgorithm, purpose: KeyPurpose, id: String) throws -> KeyHandle {
        let pointer: OpaquePointer?
        switch algorithm {
        case .ecdsaP256, .ecdsaP384:
            pointer = Self.generateEC(curve: algorithm == .ecdsaP256 ? "P-256" : "P-384")
        case .ed25519:
            var key: OpaquePointer?
            if let ctx = EVP_PKEY_CTX_new_from_name(nil, "ED25519", nil) {
                if EVP_PKEY_keygen_init(ctx) == 1 { _ = EVP_PKEY_generate(ctx, &key) }
                EVP_PKEY_CTX_free(ctx)
            }
            pointer = key
        case .rsa(let bits):
            pointer = capnet_generate_rsa(UInt32(bits))
        }
        guard let pointer else { throw KeyVaultError.invalidKey("\(algorithm) key generation failed") }
        return try add(LibcryptoKey(taking: pointer), id: id, purpose: purpose, source: .generated)
    }

    /// Imports a PEM private key (PKCS#8, or a traditional EC/RSA format).
    ///
    /// - Throws: `developmentKeyInProduction` when `source` is `.development` under the production profile.
    public func importPEM(_ pem: String, purpose: KeyPurpose, id: String,
                          source: KeySource = .imported) throws -> KeyHandle {
        if profile == .production && source == .development {
            throw KeyVaultError.developmentKeyInProduction(id: id)
        }
        return try add(Self.parsePrivateKey(pem), id: id, purpose: purpose, source: source)
    }

    private func add(_ key: LibcryptoKey, id: String, purpose: KeyPurpose, source: KeySource) throws -> KeyHandle {
        guard !id.isEmpty, id.allSatisfy({ Self.idCharacters.contains($0) }) else {
            throw KeyVaultError.invalidKey("key id '\(id)' must be letters, digits, '-', '_' or '.'")
        }
        let handle = KeyHandle(id: id, purpose: purpose, key: key)
        if case .directory(let path) = storage {
            try write(handle, source: source, directory: path)
        }
        entries.withLock { $0[id] = Entry(handle: handle, source: source) }
        return handle
    }

    // MARK: Using keys

    /// The handle for `id`, only when it was created for `purpose`.
    public func handle(id: String, purpose: KeyPurpose) throws -> KeyHandle {
        guard let entry = entries.withLock({ $0[id] }) else { throw KeyVaultError.notFound(id: id) }
        guard entry.handle.purpose == purpose else {
            throw KeyVaultError.wrongPurpose(id: id, keyPurpose: entry.handle.purpose, requested: purpose)
        }
        return entry.handle
    }

    /// Every key's public description, sorted by id.
    public func list() -> [KeyInfo] {
        entries.withLock { entries in
            entries.values.map {
                KeyInfo(id: $0.handle.id, algorithm: $0.handle.algorithm, purpose: $0.handle.purpose, source: $0.source)
            }
        }.sorted { $0.id < $1.id }
    }

    /// Removes a key from the vault and its storage. Handles already given out keep working until released.
    public func destroy(id: String) throws {
        guard entries.withLock({ $0.removeValue(forKey: id) }) != nil else { throw KeyVaultError.notFound(id: id) }
        if case .directory(let path) = storage {
            guard unlink(path + "/" + id + ".pem") == 0 || errno == ENOENT else {
                throw KeyVaultError.storage("cannot remove key file for \(id): errno \(errno)")
            }
        }
    }

    // MARK: Storage

    /// The lines before the PEM block: `purpose: ...` and `source: ...`.
    private static func parseMetadata(_ text: String) -> (KeyPurpose, KeySource) {
        var purpose = KeyPurpose.tlsServer
        var source = KeySource.imported
        for line in text.split(separator: "\n") {
            if line.hasPrefix("-----BEGIN") { break }
            if line.hasPrefix("purpose: ") { purpose = KeyPurpose(rawValue: String(line.dropFirst(9))) }
            if line.hasPrefix("source: "), let value = KeySource(rawValue: String(line.dropFirst(8))) { source = value }
        }
        return (purpose, source)
    }

    private func write(_ handle: KeyHandle, source: KeySource, directory: String) throws {
        guard let bio = capnet_private_key_pem(handle.key.pointer) else {
            throw KeyVaultError.storage("cannot encode key \(handle.id) as PKCS#8")
        }
        defer { BIO_free(bio) }
        var data: UnsafePointer<CChar>?
        let length = capnet_bio_contents(bio, &data)
        guard length > 0, let data else { throw KeyVaultError.storage("empty PKCS#8 encoding for \(handle.id)") }
        // PEM_read_bio_PrivateKey skips text before the BEGIN line, so the metadata rides along.
        var contents = Array("purpose: \(handle.purpose.rawValue)\nsource: \(source.rawValue)\n".utf8)
        contents.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))

        let finalPath = directory + "/" + handle.id + ".pem"
        let temporaryPath = finalPath + ".tmp"
        unlink(temporaryPath)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyVaultError.storage("cannot create \(temporaryPath): errno \(errno)") }
        let written = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        // Overwrite the buffer that held the private key text.
        contents.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        guard written == contents.count, synced, rename(temporaryPath, finalPath) == 0 else {
            unlink(temporaryPath)
            throw KeyVaultError.storage("cannot write \(finalPath): errno \(errno)")
        }
    }

    static func parsePrivateKey(_ pem: String) throws -> LibcryptoKey {
        let pointer = pem.withCString { capnet_read_private_key_pem($0, Int32(strlen($0))) }
        guard let pointer else { throw KeyVaultError.invalidKey("no readable PEM private key") }
        do {
            return try LibcryptoKey(taking: pointer)
        } catch {
            throw KeyVaultError.invalidKey("\(error)")
        }
    }

    private static func generateEC(curve: String) -> OpaquePointer? {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_group_name(ctx, curve) == 1,
              EVP_PKEY_generate(ctx, &key) == 1 else { return nil }
        return key
    }

    static func readFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KeyVaultError.storage("cannot open \(path): errno \(errno)") }
        defer { Glibc.close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(fd, &chunk, chunk.count)
            guard count >= 0 else { throw KeyVaultError.storage("cannot read \(path): errno \(errno)") }
            if count == 0 { break }
            contents.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: contents, as: UTF8.self)
    }

    private static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw KeyVaultError.storage("cannot list \(path): errno \(errno)") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
