extension LoadOptions {
    /// Width that help text is wrapped to.
    static let helpWidth = 79
    static let helpIndent = 6

    static var helpText: String {
        var text = """
            capnet-load: a TLS 1.3 handshake load generator for capnet.

            Usage: capnet-load [options] https://HOST[:PORT][/PATH]

            Opens new TLS 1.3 connections to the URL (port 443 if none is given)
            with OpenSSL's client, and reports handshakes per second, requests per
            second, latency percentiles and errors by kind. Every run stops by
            itself: at the latest --duration plus --timeout after it starts.

            Only loopback (127.0.0.0/8, ::1) and the documentation ranges
            (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are accepted as targets
            unless --allow-any-target is given; host names are resolved first and
            the check applies to the resolved address.

            Options:

            """
        for option in optionTable {
            let head = "  " + option.name + (option.valueName.map { " " + $0 } ?? "")
            text += head + "\n"
            text += wrap(option.summary, indent: helpIndent) + "\n"
        }
        text += """

            Exit status: 0 when at least one connection succeeded, 1 when none
            did, 2 for invalid options or a rejected target.

            Example:
              capnet-load --mode resumed --count 1000 --cacert ca.pem https://localhost:4433/

            """
        return text
    }

    /// Wraps `text` at word boundaries to `helpWidth` columns.
    static func wrap(_ text: String, indent: Int) -> String {
        let prefix = String(repeating: " ", count: indent)
        var lines: [String] = []
        var current = prefix
        for word in text.split(separator: " ") {
            if current.count > indent && current.count + 1 + word.count > helpWidth {
                lines.append(current)
                current = prefix
            }
            current += (current.count > indent ? " " : "") + word
        }
        lines.append(current)
        return lines.joined(separator: "\n")
    }
}
