// Helpers that feed the same bytes whole, in two pieces at every split
// point, and one byte at a time, and check that the outcome never changes.
import Testing
@testable import WebUI

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Runs the parser over `chunks` and collects every event.
func parserEvents(_ chunks: [ArraySlice<UInt8>], limits: HTTPParserLimits) -> [HTTPParserEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [HTTPParserEvent] = []
    for chunk in chunks {
        parser.append(chunk)
        while let event = parser.next() { events.append(event) }
    }
    return events
}

/// The parser's events for `input`, after checking that every two-piece
/// split and byte-by-byte feeding give the same events.
func parseEverySplit(_ input: [UInt8], limits: HTTPParserLimits = HTTPParserLimits(),
                     sourceLocation: SourceLocation = #_sourceLocation) -> [HTTPParserEvent]
{
    let whole = parserEvents([input[...]], limits: limits)
    var firstMismatch: Int?
    for split in 1..<max(1, input.count) where firstMismatch == nil {
        if parserEvents([input[..<split], input[split...]], limits: limits) != whole {
            firstMismatch = split
        }
    }
    #expect(firstMismatch == nil, "split at byte \(firstMismatch ?? -1) changed the events",
            sourceLocation: sourceLocation)
    let byteByByte = parserEvents(input.map { [$0][...] }, limits: limits)
    #expect(byteByByte == whole, "byte-by-byte feeding changed the events", sourceLocation: sourceLocation)
    return whole
}

func parseEverySplit(_ input: String, limits: HTTPParserLimits = HTTPParserLimits(),
                     sourceLocation: SourceLocation = #_sourceLocation) -> [HTTPParserEvent]
{
    parseEverySplit(bytes(input), limits: limits, sourceLocation: sourceLocation)
}

/// The complete requests among `events`.
func requests(_ events: [HTTPParserEvent]) -> [HTTPRequest] {
    events.compactMap { if case .request(let r) = $0 { r } else { nil } }
}

/// The error among `events`, if any.
func parseError(_ events: [HTTPParserEvent]) -> HTTPParseError? {
    events.lazy.compactMap { if case .error(let e) = $0 { e } else { nil } }.first
}
