import Testing
@testable import capnet_load

@Suite struct HTTPResponseReaderTests {
    /// The shape of nginx 1.22's reply to the test configuration's `return 200`.
    static let nginxResponse = Array((
        "HTTP/1.1 200 OK\r\n"
            + "Server: nginx/1.22.1\r\n"
            + "Date: Fri, 04 Dec 2026 20:40:00 GMT\r\n"
            + "Content-Type: application/octet-stream\r\n"
            + "Content-Length: 23\r\n"
            + "Connection: close\r\n"
            + "\r\n"
            + "capnet-load nginx test\n").utf8)

    static func feed(_ reader: inout HTTPResponseReader, _ bytes: [UInt8]) throws -> Bool {
        try bytes.withUnsafeBytes { try reader.consume($0) }
    }

    @Test func contentLengthAllAtOnce() throws {
        var reader = HTTPResponseReader()
        let complete = try Self.feed(&reader, Self.nginxResponse)
        #expect(complete)
        #expect(reader.statusCode == 200)
        #expect(reader.bodyBytesRead == 23)
    }

    @Test func contentLengthByteByByte() throws {
        var reader = HTTPResponseReader()
        for (index, byte) in Self.nginxResponse.enumerated() {
            let complete = try Self.feed(&reader, [byte])
            #expect(complete == (index == Self.nginxResponse.count - 1), "byte \(index)")
        }
        #expect(reader.bodyBytesRead == 23)
    }

    @Test func bodyUntilEndOfStream() throws {
        // openssl s_server -www replies with HTTP/1.0 and no Content-Length.
        var reader = HTTPResponseReader()
        let complete = try Self.feed(&reader, Array("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<HTML>".utf8))
        #expect(!complete)
        try reader.finishAtEndOfStream()
        #expect(reader.isComplete)
        #expect(reader.bodyBytesRead == 6)
    }

    @Test func truncatedBodyIsError() throws {
        var reader = HTTPResponseReader()
        _ = try Self.feed(&reader, Array(Self.nginxResponse.dropLast(5)))
        #expect(throws: LoadFailure(.other, "server closed the connection with 5 body bytes missing")) {
            try reader.finishAtEndOfStream()
        }
    }

    @Test(arguments: [
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP status 404"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP Transfer-Encoding 'chunked' is not supported"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "invalid HTTP Content-Length '1x'"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "conflicting HTTP Content-Length values"),
        ("SSH-2.0-OpenSSH_9.2\r\n\r\n", "invalid HTTP status line 'SSH-2.0-OpenSSH_9.2'"),
        ("HTTP/1.1 100 Continue\r\n\r\n", "HTTP interim status 100 is not supported"),
    ])
    func invalidResponse(text: String, expected: String) {
        var reader = HTTPResponseReader()
        #expect(throws: LoadFailure(.other, expected)) {
            _ = try Self.feed(&reader, Array(text.utf8))
        }
    }

    @Test func oversizedHeaderIsError() throws {
        var reader = HTTPResponseReader()
        let line = Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8)
        _ = try Self.feed(&reader, Array("HTTP/1.1 200 OK\r\n".utf8))
        var failure: LoadFailure?
        for _ in 0..<(HTTPResponseReader.maximumHeaderBytes / line.count + 2) where failure == nil {
            do {
                _ = try Self.feed(&reader, line)
            } catch {
                failure = error as? LoadFailure
            }
        }
        #expect(failure?.detail.contains("larger than \(HTTPResponseReader.maximumHeaderBytes) bytes") == true)
    }
}
