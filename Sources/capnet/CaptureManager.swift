import CapnetBase
import NIC
import WebUI
#if canImport(Glibc)
import Glibc
#endif

/// The Web UI's capture control: recordings on the `RecordingDevice`, stored
/// as `DIRECTORY/NAME.pcapng` with the TLS secrets of their connections
/// embedded (see `RecordingKeyLog`).
///
/// The directory is mode 0700 and every file 0600, because a capture with
/// its secrets decrypts the traffic it holds. Files from earlier runs are
/// listed and downloadable. Nothing is ever deleted here: when the bounds on
/// stored captures are reached, new captures are rejected with an error that
/// names the bound, and the operator deletes old files from the directory.
///
/// Threading: called only on the run loop's thread (the Web UI handlers run
/// there), like the recording device, so it takes no locks.
final class CaptureManager: CaptureController {
    /// The maximum capture files in the directory, running ones included.
    static let maximumStoredCaptures = 32
    /// The maximum bytes of all capture files together. A new capture needs
    /// room for its full size limit next to the stored files and the running
    /// captures' limits, so the directory never grows past this.
    static let maximumTotalBytes: UInt64 = 512 * 1024 * 1024
    static let fileExtension = ".pcapng"
    /// Mode of the capture directory: owner only.
    static let directoryMode: mode_t = 0o700

    let directory: String
    private let recorder: RecordingDevice
    /// Recordings started by this process, running or stopped, by name.
    /// Stopped entries whose file is gone are dropped when a capture starts,
    /// so at most `maximumStoredCaptures` plus the running ones remain.
    private var recordings: [String: RecordingDevice.Recording] = [:]
    private let log = Logger(.ui)

    /// Creates `directory` with mode 0700, or checks that an existing one is
    /// a directory (not a symbolic link) and sets its mode to 0700.
    init(directory: String, recorder: RecordingDevice) throws {
        self.directory = directory
        self.recorder = recorder
        if mkdir(directory, Self.directoryMode) != 0 {
            let error = errno
            guard error == EEXIST else {
                throw UsageError("cannot create the capture directory \(directory): \(String(cString: strerror(error)))")
            }
            var info = stat()
            guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw UsageError("\(directory) exists but is not a directory; move it away so captures can be stored there")
            }
            guard chmod(directory, Self.directoryMode) == 0 else {
                throw UsageError("cannot set mode 0700 on the capture directory \(directory): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: CaptureController

    func listCaptures() -> [CaptureStatus] {
        let stored = storedFiles()
        var list = stored.map { status(name: $0.name, fileSize: $0.size) }
        // A running capture whose file was deleted is still listed, so it can be stopped.
        for recording in recorder.activeRecordings where !stored.contains(where: { $0.name == recording.name }) {
            list.append(status(of: recording))
        }
        return list
    }

    func startCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus {
        let path = self.path(for: name)
        if recordings[name.rawValue]?.isActive == true || fileSize(at: path) != nil {
            throw .alreadyExists
        }
        let stored = storedFiles()
        recordings = recordings.filter { entry in
            entry.value.isActive || stored.contains { $0.name == entry.key }
        }
        guard stored.count < Self.maximumStoredCaptures else {
            throw .limitReached("\(stored.count) captures are stored, the maximum; delete old captures from "
                + "\(directory) to start another")
        }
        let limits = recorder.limits
        guard recorder.activeRecordings.count < limits.maximumRecordings else {
            throw .limitReached("\(recorder.activeRecordings.count) captures are running, the maximum; "
                + "stop one to start another")
        }
        let finishedBytes = stored.filter { recordings[$0.name]?.isActive != true }.reduce(0) { $0 + $1.size }
        let reservedBytes = UInt64(recorder.activeRecordings.count + 1) * limits.maximumBytesPerRecording
        guard finishedBytes + reservedBytes <= Self.maximumTotalBytes else {
            throw .limitReached("the stored captures take \(finishedBytes) bytes, and a new one may take "
                + "\(limits.maximumBytesPerRecording) more, past the maximum of \(Self.maximumTotalBytes) "
                + "bytes; delete old captures from \(directory) to start another")
        }

        let recording: RecordingDevice.Recording
        do {
            recording = try recorder.startRecording(name: name.rawValue, path: path)
        } catch {
            log.error("failed to start a capture: \(error)", "name=\(name)")
            throw .failed("cannot start the capture: \(error)")
        }
        recordings[name.rawValue] = recording
        return status(of: recording)
    }

    func stopCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus {
        if let recording = recordings[name.rawValue], recording.isActive {
            recorder.stopRecording(recording)
            return status(of: recording)
        }
        guard fileSize(at: path(for: name)) != nil else { throw .notFound }
        throw .wrongState("the capture is not running")
    }

    func captureFile(named name: CaptureName) throws(CaptureControlError) -> CaptureFile {
        if recordings[name.rawValue]?.isActive == true {
            throw .wrongState("the capture is running; stop it before downloading it")
        }
        let path = self.path(for: name)
        // O_NOFOLLOW: a symbolic link planted in the directory is not followed.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = errno
            if error == ENOENT { throw .notFound }
            throw .failed("cannot open the capture file: \(String(cString: strerror(error)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .failed("the capture is not a regular file")
        }
        let size = Int(info.st_size)
        // The download is held in memory, so its size is bounded like a recording's.
        guard UInt64(size) <= recorder.limits.maximumBytesPerRecording else {
            throw .failed("the capture file is \(size) bytes, more than the maximum download of "
                + "\(recorder.limits.maximumBytesPerRecording) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, size - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw .failed("cannot read the capture file: \(count < 0 ? String(cString: strerror(errno)) : "it shrank")")
            }
            offset += count
        }
        guard let fileName = CaptureName(name.rawValue + Self.fileExtension) else {
            throw .failed("the capture name is too long for a file name with \(Self.fileExtension)")
        }
        return CaptureFile(fileName: fileName, bytes: bytes)
    }

    // MARK: Files

    private func path(for name: CaptureName) -> String {
        directory + "/" + name.rawValue + Self.fileExtension
    }

    /// Returns the size of the file at `path`, or nil if there is none.
    /// Uses lstat, so a symbolic link counts as present but is never followed.
    private func fileSize(at path: String) -> UInt64? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return UInt64(max(0, info.st_size))
    }

    /// Lists the capture files in the directory, sorted by name: regular
    /// files named `NAME.pcapng` where NAME is a valid capture name.
    private func storedFiles() -> [(name: String, size: UInt64)] {
        guard let stream = opendir(directory) else {
            log.error("cannot read the capture directory: \(String(cString: strerror(errno)))", "dir=\(directory)")
            return []
        }
        defer { closedir(stream) }
        var files: [(name: String, size: UInt64)] = []
        while let entry = readdir(stream) {
            let fileName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard fileName.hasSuffix(Self.fileExtension),
                  let name = CaptureName(String(fileName.dropLast(Self.fileExtension.count)))
            else { continue }
            var info = stat()
            guard lstat(directory + "/" + fileName, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            files.append((name.rawValue, UInt64(max(0, info.st_size))))
        }
        return files.sorted { $0.name < $1.name }
    }

    private func status(name: String, fileSize: UInt64) -> CaptureStatus {
        if let recording = recordings[name] { return status(of: recording) }
        return CaptureStatus(name: name, sizeBytes: fileSize, running: false)
    }

    private func status(of recording: RecordingDevice.Recording) -> CaptureStatus {
        var reason: String?
        if let stopReason = recording.stopReason, stopReason != .requested { reason = stopReason.description }
        return CaptureStatus(name: recording.name, sizeBytes: recording.byteCount, running: recording.isActive,
                             stopReason: reason)
    }
}
