// A test driver for HTTPConnection: it feeds chunks, responds to each request
// at once through a handler, and collects everything the connection sends.
import CapnetBase
import Foundation
import Testing
@testable import WebUI

/// 1994-11-06T08:49:37Z, the IMF-fixdate example of RFC 9110 §5.6.7.
let rfcExampleUnixSeconds: Int64 = 784_111_777
let rfcExampleDate = "Sun, 06 Nov 1994 08:49:37 GMT"
let startInstant = Instant(nanoseconds: 5_000_000_000)

func testConfiguration(_ change: (inout HTTPConnection.Configuration) -> Void = { _ in })
    -> HTTPConnection.Configuration
{
    var configuration = HTTPConnection.Configuration(
        serverName: "capnet",
        dateClock: HTTPDateClock(unixNanoseconds: rfcExampleUnixSeconds * 1_000_000_000, at: startInstant))
    change(&configuration)
    return configuration
}

/// A handler that echoes method, path and body as text.
func echo(_ request: HTTPRequest) -> HTTPResponse {
    .text("\(request.method) \(request.path ?? request.head.rawTarget) \(String(decoding: request.body, as: UTF8.self))")
}

struct DriveResult: Equatable {
    var output: String
    var closed: Bool
    var handled: [String]
}

/// Feeds `chunks` at `startInstant` and responds to each request at once.
func drive(_ chunks: [ArraySlice<UInt8>], configuration: HTTPConnection.Configuration = testConfiguration(),
           endOfInput: Bool = false, handler: (HTTPRequest) -> HTTPResponse = echo) -> DriveResult
{
    var connection = HTTPConnection(configuration: configuration, now: startInstant)
    var output: [UInt8] = []
    var handled: [String] = []
    func serve() {
        while let incoming = connection.nextRequest() {
            handled.append(incoming.request.head.rawTarget)
            connection.respond(to: incoming.id, with: handler(incoming.request), now: startInstant)
        }
        output += connection.takeOutput()
    }
    for chunk in chunks {
        connection.receive(chunk, now: startInstant)
        serve()
    }
    if endOfInput {
        connection.receiveEndOfInput(now: startInstant)
        serve()
    }
    return DriveResult(output: String(decoding: output, as: UTF8.self), closed: connection.isClosed,
                       handled: handled)
}

/// Drives `input` and returns the result, after checking that every
/// two-piece split and byte-by-byte feeding give the same bytes out and
/// close state.
func driveEverySplit(_ input: String, configuration: HTTPConnection.Configuration = testConfiguration(),
                     endOfInput: Bool = false, handler: (HTTPRequest) -> HTTPResponse = echo,
                     sourceLocation: SourceLocation = #_sourceLocation) -> DriveResult
{
    let data = bytes(input)
    let whole = drive([data[...]], configuration: configuration, endOfInput: endOfInput, handler: handler)
    var firstMismatch: Int?
    for split in 1..<max(1, data.count) where firstMismatch == nil {
        let result = drive([data[..<split], data[split...]], configuration: configuration,
                           endOfInput: endOfInput, handler: handler)
        if result != whole { firstMismatch = split }
    }
    #expect(firstMismatch == nil, "split at byte \(firstMismatch ?? -1) changed the exchange",
            sourceLocation: sourceLocation)
    let byteByByte = drive(data.map { [$0][...] }, configuration: configuration, endOfInput: endOfInput,
                           handler: handler)
    #expect(byteByByte == whole, "byte-by-byte feeding changed the exchange", sourceLocation: sourceLocation)
    return whole
}

/// Extracts the status line of each response in `output`, in order. The
/// bodies in these tests never contain "HTTP/1.1 ".
func statusLines(_ output: String) -> [String] {
    output.components(separatedBy: "HTTP/1.1 ").dropFirst().map { part in
        "HTTP/1.1 " + (part.components(separatedBy: "\r\n").first ?? "")
    }
}
