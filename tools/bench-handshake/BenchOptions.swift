/// Command-line options of bench-handshake.
struct BenchOptions {
    var certificatePath = ""
    var keyPath = ""
    /// Handshakes per server per round.
    var handshakes = 300
    /// Rounds; servers alternate which goes first, and each round gives one ratio.
    var rounds = 5
    /// 16 KiB records sealed and opened per server and cipher suite.
    var records = 2000
    /// Operations per primitive in the floor measurement.
    var floorIterations = 2000
    var servers: Set<String> = ["capnet", "libssl"]
    var parts: Set<String> = ["full", "resumed", "records", "floor"]
    /// Wall-clock bound: no new round starts after it.
    var maxSeconds = 300

    static let maxCount = 1_000_000
    static let maxSecondsLimit = 3600

    static let usage = """
    usage: bench-handshake --cert FILE --key FILE [options]

    Measures the server's CPU time per TLS 1.3 handshake in memory, on one
    thread: capnet's TLSServerConnection and OpenSSL's libssl server, both
    driven by one libssl client through memory buffers. Only the server's
    calls are timed, with the thread CPU clock.

      --cert FILE          PEM certificate chain (ECDSA P-256 for the published numbers)
      --key FILE           PEM private key of the certificate
      --handshakes N       handshakes per server per round (default 300)
      --rounds N           rounds, alternating which server goes first (default 5)
      --records N          16 KiB records per server and cipher suite (default 2000)
      --floor-iterations N operations per primitive in the floor (default 2000)
      --servers LIST       capnet,libssl (default both)
      --parts LIST         full,resumed,records,floor (default all)
      --max-seconds N      start no round after N seconds of wall time (default 300)
    """

    init(arguments: [String]) throws {
        var index = 0
        func value(_ name: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchError("\(name) needs a value\n\(Self.usage)") }
            return arguments[index]
        }
        func count(_ name: String, limit: Int) throws -> Int {
            let text = try value(name)
            guard let number = Int(text), number > 0, number <= limit else {
                throw BenchError("\(name) must be 1...\(limit), not \(text)")
            }
            return number
        }
        while index < arguments.count {
            let name = arguments[index]
            switch name {
            case "--cert": certificatePath = try value(name)
            case "--key": keyPath = try value(name)
            case "--handshakes": handshakes = try count(name, limit: Self.maxCount)
            case "--rounds": rounds = try count(name, limit: Self.maxCount)
            case "--records": records = try count(name, limit: Self.maxCount)
            case "--floor-iterations": floorIterations = try count(name, limit: Self.maxCount)
            case "--max-seconds": maxSeconds = try count(name, limit: Self.maxSecondsLimit)
            case "--servers": servers = try Self.list(try value(name), allowed: ["capnet", "libssl"])
            case "--parts": parts = try Self.list(try value(name), allowed: ["full", "resumed", "records", "floor"])
            case "--help", "-h": throw BenchError(Self.usage)
            default: throw BenchError("unknown option \(name)\n\(Self.usage)")
            }
            index += 1
        }
        guard !certificatePath.isEmpty, !keyPath.isEmpty else { throw BenchError("--cert and --key are required\n\(Self.usage)") }
    }

    private static func list(_ text: String, allowed: Set<String>) throws -> Set<String> {
        let items = Set(text.split(separator: ",").map(String.init))
        guard !items.isEmpty, items.isSubset(of: allowed) else {
            throw BenchError("'\(text)' is not a list of \(allowed.sorted().joined(separator: ","))")
        }
        return items
    }
}
