/// A small command-line option parser: `--name value`, `--name=value` and
/// boolean `--flag` forms, with every option declared up front so `--help`
/// and the error for an unknown option come from one table.
struct OptionSpec {
    enum Kind { case flag, value(placeholder: String), repeated(placeholder: String) }

    let name: String
    let kind: Kind
    let help: String
}

struct ParsedOptions {
    private(set) var values: [String: [String]] = [:]
    private(set) var flags: Set<String> = []

    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func has(_ name: String) -> Bool { flags.contains(name) || values[name] != nil }

    mutating func add(_ name: String, _ value: String) { values[name, default: []].append(value) }
    mutating func set(_ name: String) { flags.insert(name) }
}

/// A user error on the command line: what was wrong, on which value, and what to do.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum OptionParser {
    /// Parses `arguments` (without the program and subcommand names) against `specs`.
    static func parse(_ arguments: [String], specs: [OptionSpec], command: String) throws -> ParsedOptions {
        var parsed = ParsedOptions()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                throw UsageError("unexpected argument '\(argument)'; options start with '--' (run 'capnet \(command) --help')")
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError("unknown option '--\(name)' (run 'capnet \(command) --help' for the list)")
            }
            switch spec.kind {
            case .flag:
                if inlineValue != nil {
                    throw UsageError("option '--\(name)' takes no value")
                }
                parsed.set(name)
            case .value(let placeholder), .repeated(let placeholder):
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < arguments.count else {
                        throw UsageError("option '--\(name)' needs a value: --\(name) \(placeholder)")
                    }
                    value = arguments[index]
                    index += 1
                }
                if case .value = spec.kind, parsed.value(name) != nil {
                    throw UsageError("option '--\(name)' given twice; give it once")
                }
                parsed.add(name, value)
            }
        }
        return parsed
    }

    /// Formats the option table for `--help`, wrapped for an 80-column terminal.
    static func helpText(specs: [OptionSpec]) -> String {
        var lines: [String] = []
        for spec in specs {
            var head = "  --\(spec.name)"
            switch spec.kind {
            case .flag: break
            case .value(let placeholder): head += " \(placeholder)"
            case .repeated(let placeholder): head += " \(placeholder)  (repeatable)"
            }
            lines.append(head)
            lines.append(contentsOf: wrap(spec.help, width: 72).map { "        " + $0 })
        }
        return lines.joined(separator: "\n")
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if current.isEmpty {
                current = String(word)
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = String(word)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}
