// The admin token: created on first start in the state directory, read
// back on later starts. The file and its directory must be private to the
// service's user; wrong modes are errors whose message gives the fix.
import CapnetBase
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The secret that authenticates the operator. Its description never
/// contains the value, so that logging it by mistake leaks nothing.
public struct AdminToken: Sendable, CustomStringConvertible {
    /// The base64url value; compare it only with `matches(_:)`.
    public let value: String

    public init?(value: String) {
        guard SecretBytes.isWellFormedToken(value) else { return nil }
        self.value = value
    }

    /// Constant-time comparison with a presented token.
    public func matches(_ presented: String) -> Bool { SecretBytes.constantTimeEquals(value, presented) }

    public var description: String { "AdminToken(redacted)" }
}

public struct AdminTokenError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

public enum AdminTokenStore {
    /// Name of the token file inside the state directory.
    public static let fileName = "admin-token"
    /// rw------- for the token file, rwx------ for the state directory.
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700

    static let log = Logger(.ui)

    /// The result of `loadOrCreate`.
    public struct Loaded: Sendable {
        public var token: AdminToken
        /// The token file's path, for telling the operator where to read it.
        public var path: String
        /// True when this call created the token.
        public var created: Bool
    }

    /// Reads the token from `stateDirectory`, or creates the directory
    /// (mode 0700) and a new token file (mode 0600) when absent. The file
    /// is written to a temporary name and renamed into place, so that a
    /// crash never leaves a partial token.
    public static func loadOrCreate(stateDirectory: String) throws(AdminTokenError) -> Loaded {
        try ensureDirectory(stateDirectory)
        let path = stateDirectory + "/" + fileName
        var info = stat()
        if lstat(path, &info) == 0 {
            let token = try read(path, info: info)
            log.info("admin token loaded", "path=\(path)")
            return Loaded(token: token, path: path, created: false)
        }
        guard errno == ENOENT else { throw AdminTokenError("cannot inspect \(path): \(errorText())") }
        let token = try create(path, directory: stateDirectory)
        log.notice("admin token created; read it from the file to log in", "path=\(path)")
        return Loaded(token: token, path: path, created: true)
    }

    private static func ensureDirectory(_ directory: String) throws(AdminTokenError) {
        var info = stat()
        if stat(directory, &info) != 0 {
            guard errno == ENOENT else { throw AdminTokenError("cannot inspect \(directory): \(errorText())") }
            guard mkdir(directory, directoryMode) == 0 else {
                throw AdminTokenError("cannot create the state directory \(directory): \(errorText())")
            }
            // mkdir(2) applies the umask; set the mode exactly.
            guard chmod(directory, directoryMode) == 0 else {
                throw AdminTokenError("cannot set mode 0700 on \(directory): \(errorText())")
            }
            return
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw AdminTokenError("\(directory) is not a directory; give a directory as the state directory")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw AdminTokenError("the state directory \(directory) has mode \(octal(info.st_mode)), "
                + "readable by other users; run: chmod 700 \(directory)")
        }
    }

    private static func read(_ path: String, info: stat) throws(AdminTokenError) -> AdminToken {
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw AdminTokenError("\(path) is not a regular file; remove it and restart to create a new token")
        }
        guard info.st_mode & 0o7777 == fileMode else {
            throw AdminTokenError("the admin token file \(path) has mode \(octal(info.st_mode)), expected 0600; "
                + "run: chmod 600 \(path)")
        }
        guard info.st_uid == getuid() else {
            throw AdminTokenError("the admin token file \(path) belongs to user \(info.st_uid), not to this "
                + "service's user \(getuid()); run: chown \(getuid()) \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AdminTokenError("cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let token = AdminToken(value: text) else {
            throw AdminTokenError("\(path) does not contain a 43-character base64url token; "
                + "remove it and restart to create a new one")
        }
        return token
    }

    private static func create(_ path: String, directory: String) throws(AdminTokenError) -> AdminToken {
        let value = SecretBytes.randomToken()
        guard let token = AdminToken(value: value) else { throw AdminTokenError("generated token is malformed") }

        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, fileMode)
        guard fd >= 0 else { throw AdminTokenError("cannot create \(temporary): \(errorText())") }

        let bytes = Array((value + "\n").utf8)
        var written = 0
        var failure: String?
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot write \(temporary): \(errorText())"
                break
            }
            written += n
        }

        // open(2) applies the umask; set the mode exactly, then make the
        // content durable before the rename publishes it.
        if failure == nil, fchmod(fd, fileMode) != 0 { failure = "cannot set mode 0600 on \(temporary): \(errorText())" }
        if failure == nil, fsync(fd) != 0 { failure = "cannot sync \(temporary): \(errorText())" }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = "cannot rename \(temporary) to \(path): \(errorText())" }
        if let failure {
            unlink(temporary)
            throw AdminTokenError(failure)
        }

        // Sync the directory so that the rename itself survives a crash.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return token
    }

    private static func octal(_ mode: mode_t) -> String { "0" + String(mode & 0o7777, radix: 8) }
    private static func errorText() -> String { String(cString: strerror(errno)) }
}
