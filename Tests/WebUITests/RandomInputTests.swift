// Robustness tests with seeded random input: mutated requests never trap
// the parser or the connection, and random splits give the same events as
// feeding the bytes whole. The seeds are fixed, so every run is the same.
import CapnetBase
import Testing
@testable import WebUI

@Suite struct RandomInputTests {
    /// Valid requests that the mutations start from.
    private let seeds = [
        "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
            + "3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
        "GET http://example.com/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ]
    /// Bytes the mutations insert: delimiters and the bytes parsers trip on.
    private let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x3B, 0x00, 0x7F, 0xFF, 0x25, 0x2F]
    private let iterations = 400

    private func mutate(_ input: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var bytes = input
        let edits = Int(random.next() % 4) + 1
        for _ in 0..<edits where !bytes.isEmpty {
            let index = Int(random.next() % UInt64(bytes.count))
            switch random.next() % 3 {
            case 0: bytes[index] = interesting[Int(random.next() % UInt64(interesting.count))]
            case 1: bytes.remove(at: index)
            default: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: index)
            }
        }
        return bytes
    }

    @Test func mutatedRequestsSplitConsistently() {
        var random = SeededRandom(seed: 9112)
        let limits = HTTPParserLimits(maxRequestLineLength: 48, maxHeaderSectionSize: 96, maxBodySize: 16,
                                      maxChunkLineLength: 16, maxTrailerSectionSize: 32)
        var mismatches: [String] = []
        for iteration in 0..<iterations {
            let seed = bytes(seeds[iteration % seeds.count] + seeds[(iteration / seeds.count) % seeds.count])
            let input = mutate(seed, &random)
            let whole = parserEvents([input[...]], limits: limits)
            // Three random cut points.
            var cuts = (0..<3).map { _ in Int(random.next() % UInt64(input.count + 1)) }.sorted()
            cuts = [0] + cuts + [input.count]
            let pieces = (0..<(cuts.count - 1)).map { input[cuts[$0]..<cuts[$0 + 1]] }
            if parserEvents(pieces, limits: limits) != whole {
                mismatches.append(String(decoding: input, as: UTF8.self))
            }
        }
        #expect(mismatches.isEmpty, "split-dependent inputs: \(mismatches.prefix(3))")
    }

    @Test func connectionSurvivesMutatedPipelines() {
        var random = SeededRandom(seed: 9110)
        for iteration in 0..<iterations {
            let input = mutate(bytes(seeds.joined()), &random)
            var connection = HTTPConnection(configuration: testConfiguration(), now: startInstant)
            var offset = 0
            while offset < input.count {
                let length = Int(random.next() % 64) + 1
                let end = min(input.count, offset + length)
                connection.receive(input[offset..<end], now: startInstant)
                connection.respondToRequests(now: startInstant, with: echo)
                offset = end
            }
            connection.receiveEndOfInput(now: startInstant)
            connection.respondToRequests(now: startInstant, with: echo)
            _ = connection.takeOutput()
            #expect(connection.isClosed, "iteration \(iteration) did not close after the end of input")
        }
    }
}
