// Header and trailer fields (RFC 9110 §5).

/// One field line: a name and its value, as received or to be sent.
public struct HTTPField: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name): \(value)" }
}

/// An ordered list of header (or trailer) fields. Names compare
/// case-insensitively (RFC 9110 §5.1); order and repeated names are kept.
public struct HTTPHeaders: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    public private(set) var fields: [HTTPField] = []

    public init() {}
    public init(_ fields: [HTTPField]) { self.fields = fields }
    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { HTTPField(name: $0.0, value: $0.1) }
    }
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { HTTPField(name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }
    public func makeIterator() -> IndexingIterator<[HTTPField]> { fields.makeIterator() }

    /// Returns the first value for `name`, or nil.
    public subscript(name: String) -> String? {
        fields.first(where: { ASCII.caseInsensitiveEquals($0.name, name) })?.value
    }

    /// Returns every value for `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { ASCII.caseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    /// Returns the elements of a list-valued field (RFC 9110 §5.6.1): every
    /// field line for `name`, split on commas, trimmed, empty elements dropped.
    /// Only for fields whose elements cannot contain commas (tokens).
    public func listValues(for name: String) -> [String] {
        values(for: name).flatMap { value in
            value.split(separator: ",", omittingEmptySubsequences: true)
                .map { ASCII.trimmingOWS($0) }
                .filter { !$0.isEmpty }
        }
    }

    /// Checks whether `name`'s list contains `token`, compared case-insensitively.
    public func containsToken(_ token: String, in name: String) -> Bool {
        listValues(for: name).contains { ASCII.caseInsensitiveEquals($0, token) }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field line, keeping any existing ones with the same name.
    public mutating func add(name: String, value: String) {
        fields.append(HTTPField(name: name, value: value))
    }

    /// Replaces every field line named `name` with one line.
    public mutating func set(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    public mutating func remove(name: String) {
        fields.removeAll { ASCII.caseInsensitiveEquals($0.name, name) }
    }

    public var description: String { fields.map(\.description).joined(separator: "\n") }
}
