#if canImport(Glibc)
import Glibc
#endif

/// Files of the development CA in the state directory.
extension DevelopmentCA {
    /// The CA certificate, public, so readable by every user: clients are pointed at it.
    static let certificateMode: mode_t = 0o644
    /// Mode of a state directory this type creates; the vault keeps its own key files at 0600.
    static let stateDirectoryMode: mode_t = 0o700

    /// Creates `path` (one level, not its parents) unless it exists.
    static func ensureDirectory(_ path: String) throws {
        guard mkdir(path, stateDirectoryMode) == 0 || errno == EEXIST else {
            throw DevelopmentCAError.storage("cannot create state directory \(path): errno \(errno)")
        }
    }

    /// Returns whether a file exists at `path`.
    static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Writes `text` to a temporary file, syncs it and renames it to `path`,
    /// so a reader sees the old file or the whole new one, never a part.
    static func writeAtomically(_ text: String, to path: String, mode: mode_t) throws {
        let temporaryPath = path + ".tmp"
        unlink(temporaryPath)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw DevelopmentCAError.storage("cannot create \(temporaryPath): errno \(errno)") }
        let bytes = Array(text.utf8)
        // fchmod sets the exact mode, which the process umask may have narrowed in open.
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let finished = fchmod(fd, mode) == 0 && fsync(fd) == 0
        Glibc.close(fd)
        guard written == bytes.count, finished, rename(temporaryPath, path) == 0 else {
            let failure = errno
            unlink(temporaryPath)
            throw DevelopmentCAError.storage("cannot write \(path): errno \(failure)")
        }
    }
}
