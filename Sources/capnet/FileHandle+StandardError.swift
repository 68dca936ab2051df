import Foundation

extension FileHandle {
    /// Writes `text` to standard error unbuffered, for usage errors printed
    /// before logging is configured.
    static func standardErrorWrite(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
