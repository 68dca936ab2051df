// Bounds on the size of one request, each with the status sent when exceeded.

/// Size bounds on what one request may use. Each has a named status when
/// exceeded. Sizes of lines include their CRLF.
public struct HTTPParserLimits: Hashable, Sendable {
    /// Maximum request line length, CRLF included. Longer gives 414 URI Too Long
    /// when the request-target is the long part, 501 when the method is,
    /// else 400.
    public var maxRequestLineLength: Int
    /// Maximum method length. Longer gives 501 Not Implemented (RFC 9112 §3).
    public var maxMethodLength: Int
    /// Largest header section: every field line with its CRLF plus the
    /// empty line ending the section. Larger gives 431.
    public var maxHeaderSectionSize: Int
    /// Most field lines in the header section (and in the trailer section).
    /// More gives 431.
    public var maxHeaderCount: Int
    /// Largest request content (after removing chunked framing). Larger
    /// gives 413 Content Too Large, decided from Content-Length before any
    /// content is read, or as soon as a chunk size would exceed it.
    public var maxBodySize: Int
    /// Maximum chunk-size line length, chunk extensions and CRLF included. Longer
    /// gives 400.
    public var maxChunkLineLength: Int
    /// Largest trailer section (field lines and final CRLF). Larger gives 431.
    public var maxTrailerSectionSize: Int
    /// Empty lines (CRLF) ignored before a request line (RFC 9112 §2.2).
    /// More gives 400.
    public var maxLeadingEmptyLines: Int

    public init(maxRequestLineLength: Int = 8 * 1024, maxMethodLength: Int = 32,
                maxHeaderSectionSize: Int = 16 * 1024, maxHeaderCount: Int = 100,
                maxBodySize: Int = 1024 * 1024, maxChunkLineLength: Int = 1024,
                maxTrailerSectionSize: Int = 4 * 1024, maxLeadingEmptyLines: Int = 4)
    {
        self.maxRequestLineLength = maxRequestLineLength
        self.maxMethodLength = maxMethodLength
        self.maxHeaderSectionSize = maxHeaderSectionSize
        self.maxHeaderCount = maxHeaderCount
        self.maxBodySize = maxBodySize
        self.maxChunkLineLength = maxChunkLineLength
        self.maxTrailerSectionSize = maxTrailerSectionSize
        self.maxLeadingEmptyLines = maxLeadingEmptyLines
    }
}
