// HTML text escaping and a small builder for the server-rendered pages.
// Every piece of dynamic text goes through `HTML.escape` before it reaches
// a page; markup is only ever written from program text.

public enum HTML {
    /// Escapes text for element content and double- or single-quoted
    /// attribute values: & < > " ' become character references.
    public static func escape(_ text: String) -> String {
        // Works on UTF-8 bytes: the five characters are ASCII, and no byte of
        // a multi-byte sequence is ASCII, so other text is copied unchanged.
        let utf8 = text.utf8
        guard utf8.contains(where: isSpecial) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count + 32)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isSpecial(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">")
            || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }

    /// Renders a table with a header row and escaped cells. `empty` is shown
    /// in one row when there are no rows.
    static func table(id: String, headers: [String], rows: [[String]], empty: String) -> String {
        var out = "<table id=\"\(escape(id))\" data-empty=\"\(escape(empty))\">\n<thead><tr>"
        for header in headers { out += "<th scope=\"col\">\(escape(header))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        if rows.isEmpty {
            out += "<tr><td class=\"empty\" colspan=\"\(headers.count)\">\(escape(empty))</td></tr>\n"
        }
        for row in rows {
            out += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
        return out
    }

    /// Renders a complete page that loads only same-origin assets, so it runs
    /// under `default-src 'self'`. With `liveUpdateSeconds`, the page loads
    /// the dashboard script, and browsers without script reload the page
    /// that often instead.
    static func page(title: String, body: String, liveUpdateSeconds: Int? = nil) -> String {
        var head = "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        head += "<title>\(escape(title))</title>\n"
        head += "<link rel=\"stylesheet\" href=\"\(StaticAssets.stylesheetPath)\">\n"
        if let liveUpdateSeconds {
            head += "<noscript><meta http-equiv=\"refresh\" content=\"\(liveUpdateSeconds)\"></noscript>\n"
            head += "<script src=\"\(StaticAssets.scriptPath)\" defer></script>\n"
        }
        return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n\(head)</head>\n<body>\n\(body)</body>\n</html>\n"
    }
}
