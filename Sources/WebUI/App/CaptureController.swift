// The capture control the Web UI offers, implemented by the service owner
// with the NIC capture writer (and the TLS key log for decryption).

/// Starts, stops, lists and reads packet captures. Names reaching these
/// methods have passed `CaptureName` validation. Called on the thread that
/// runs the Web UI handlers.
public protocol CaptureController: AnyObject {
    func listCaptures() -> [CaptureStatus]
    /// Starts a new capture called `name`.
    func startCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus
    /// Stops the running capture `name`; its file stays for download.
    func stopCapture(named name: CaptureName) throws(CaptureControlError) -> CaptureStatus
    /// Returns the finished capture file `name`, whole. An implementation
    /// bounds its capture files, and so the size of a download.
    // NOTE: the download is held in memory as one response body; streaming
    // would need a body source in HTTPResponse.
    func captureFile(named name: CaptureName) throws(CaptureControlError) -> CaptureFile
}

/// A capture file for download.
public struct CaptureFile: Sendable {
    /// The name the browser saves it under, such as "name.pcapng".
    public var fileName: CaptureName
    public var bytes: [UInt8]

    public init(fileName: CaptureName, bytes: [UInt8]) {
        self.fileName = fileName
        self.bytes = bytes
    }
}

/// The reason a capture request failed. Each case maps to one HTTP status.
public enum CaptureControlError: Error, Hashable, Sendable {
    /// No capture has that name (404).
    case notFound
    /// A capture with that name exists already (409).
    case alreadyExists
    /// A stop request for a stopped capture, or a download request for a running one (409).
    case wrongState(String)
    /// The controller's bound on captures is reached (409).
    case limitReached(String)
    /// The capture could not be started, stopped or read (500).
    case failed(String)
}

/// A capture name that is safe as one file name and one URL path segment:
/// 1 to 64 characters from [A-Za-z0-9._-], not starting with ".", so no
/// "..", no "/", no hidden files and nothing that needs quoting.
public struct CaptureName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 64

    public let rawValue: String

    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumLength, bytes[0] != UInt8(ascii: ".") else { return nil }
        for byte in bytes {
            guard ASCII.isAlpha(byte) || ASCII.isDigit(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            else { return nil }
        }
        rawValue = text
    }

    public var description: String { rawValue }
}
