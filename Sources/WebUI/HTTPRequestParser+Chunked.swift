// The chunk-size line of the chunked transfer coding (RFC 9112 §7.1).

extension HTTPRequestParser {
    /// chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits, then
    /// `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`. Extensions are
    /// checked and ignored. A size above the body limit gives 413.
    static func parseChunkSizeLine(_ line: ArraySlice<UInt8>, maxBodySize: Int) -> Result<Int, HTTPParseError> {
        var i = line.startIndex
        var size = 0
        var tooLarge = false
        while i < line.endIndex, let digit = ASCII.hexValue(line[i]) {
            if !tooLarge {
                size = size * 16 + Int(digit)
                if size > maxBodySize { tooLarge = true }
            }
            i += 1
        }
        guard i > line.startIndex else { return .failure(HTTPParseError(.invalidChunkSize)) }
        func skipWhitespace() { while i < line.endIndex, ASCII.isWhitespace(line[i]) { i += 1 } }
        while true {
            let beforeWhitespace = i
            skipWhitespace()
            if i == line.endIndex {
                // BWS is only allowed before ";", not at the end of the line.
                if i > beforeWhitespace { return .failure(HTTPParseError(.invalidChunkExtension)) }
                break
            }
            guard line[i] == UInt8(ascii: ";") else { return .failure(HTTPParseError(.invalidChunkExtension)) }
            i += 1
            skipWhitespace()
            let nameStart = i
            while i < line.endIndex, ASCII.isTchar(line[i]) { i += 1 }
            guard i > nameStart else { return .failure(HTTPParseError(.invalidChunkExtension)) }
            let afterName = i
            skipWhitespace()
            if i < line.endIndex, line[i] == UInt8(ascii: "=") {
                i += 1
                skipWhitespace()
                guard let end = Self.scanExtensionValue(line, from: i) else {
                    return .failure(HTTPParseError(.invalidChunkExtension))
                }
                i = end
            } else {
                i = afterName
            }
        }
        return tooLarge ? .failure(HTTPParseError(.contentTooLarge)) : .success(size)
    }

    /// ext-val = token / quoted-string; returns the index after it.
    static func scanExtensionValue(_ line: ArraySlice<UInt8>, from start: Int) -> Int? {
        var i = start
        guard i < line.endIndex else { return nil }
        if line[i] != UInt8(ascii: "\"") {
            while i < line.endIndex, ASCII.isTchar(line[i]) { i += 1 }
            return i > start ? i : nil
        }
        i += 1
        while i < line.endIndex {
            let b = line[i]
            if b == UInt8(ascii: "\"") { return i + 1 }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < line.endIndex else { return nil }
                let q = line[i + 1]
                guard q == ASCII.htab || q == ASCII.sp || (q >= 0x21 && q != 0x7F) else { return nil }
                i += 2
                continue
            }
            guard b == ASCII.htab || b == ASCII.sp || (b >= 0x21 && b != 0x7F) else { return nil }
            i += 1
        }
        return nil
    }
}
