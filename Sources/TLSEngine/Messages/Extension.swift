/// One extension as sent: its type and its undecoded `extension_data` (RFC 8446 §4.2).
public struct TLSExtension: Hashable, Sendable {
    public var type: ExtensionType
    public var data: [UInt8]

    public init(type: ExtensionType, data: [UInt8]) {
        self.type = type
        self.data = data
    }
}

/// An extension list with the RFC 8446 §4.2 rule applied once: no type may
/// appear twice. Typed accessors decode single extensions on demand.
public struct ExtensionList: Hashable, Sendable {
    public private(set) var extensions: [TLSExtension]

    public init(_ extensions: [TLSExtension] = []) { self.extensions = extensions }

    /// Reads `Extension extensions<lengths>` and rejects a repeated type with `illegal_parameter`.
    static func read(from reader: inout ByteReader, lengths: ClosedRange<Int>, message: String) throws -> ExtensionList {
        let extensions = try reader.readVector(prefixBytes: 2, lengths: lengths, "\(message) extensions") { inner in
            let type = ExtensionType(rawValue: try inner.readUInt16("extension_type"))
            let data = try inner.readOpaque(prefixBytes: 2, lengths: 0...0xFFFF, "extension_data \(type.rawValue)")
            return TLSExtension(type: type, data: data)
        }
        var seen = Set<UInt16>()
        for ext in extensions where !seen.insert(ext.type.rawValue).inserted {
            throw TLSError(.illegalParameter, "\(message) repeats extension \(ext.type.rawValue)")
        }
        return ExtensionList(extensions)
    }

    func write(to writer: inout ByteWriter) {
        writer.writeNested(prefixBytes: 2) { list in
            for ext in extensions {
                list.writeUInt16(ext.type.rawValue)
                list.writeOpaque(prefixBytes: 2, ext.data)
            }
        }
    }

    public subscript(type: ExtensionType) -> [UInt8]? {
        extensions.first { $0.type == type }?.data
    }

    public func contains(_ type: ExtensionType) -> Bool { self[type] != nil }

    public mutating func append(_ type: ExtensionType, _ data: [UInt8]) {
        extensions.append(TLSExtension(type: type, data: data))
    }

    /// Decodes one extension's data with `body`, which must consume all of it.
    func decode<T>(_ type: ExtensionType, _ body: (inout ByteReader) throws -> T) throws -> T? {
        guard let data = self[type] else { return nil }
        var reader = ByteReader(data)
        let value = try body(&reader)
        try reader.finish("extension \(type.rawValue)")
        return value
    }
}

/// One `KeyShareEntry` (RFC 8446 §4.2.8).
public struct KeyShareEntry: Hashable, Sendable {
    public var group: NamedGroup
    public var keyExchange: [UInt8]

    public init(group: NamedGroup, keyExchange: [UInt8]) {
        self.group = group
        self.keyExchange = keyExchange
    }

    static func read(from reader: inout ByteReader) throws -> KeyShareEntry {
        let group = NamedGroup(rawValue: try reader.readUInt16("KeyShareEntry.group"))
        let keyExchange = try reader.readOpaque(prefixBytes: 2, lengths: 1...0xFFFF, "key_exchange")
        return KeyShareEntry(group: group, keyExchange: keyExchange)
    }

    func write(to writer: inout ByteWriter) {
        writer.writeUInt16(group.rawValue)
        writer.writeOpaque(prefixBytes: 2, keyExchange)
    }
}

/// A `PskIdentity` of the pre_shared_key extension (RFC 8446 §4.2.11).
public struct PSKIdentity: Hashable, Sendable {
    public var identity: [UInt8]
    public var obfuscatedTicketAge: UInt32
}

/// The client's `OfferedPsks` (RFC 8446 §4.2.11).
public struct OfferedPSKs: Hashable, Sendable {
    public var identities: [PSKIdentity]
    public var binders: [[UInt8]]
    /// Length of the encoded `binders` vector, prefix included, which ends the ClientHello.
    public var bindersLength: Int
}

/// The decoded ClientHello extensions that the server acts on.
extension ExtensionList {
    /// `supported_versions` in a ClientHello: `ProtocolVersion versions<2..254>`.
    func clientSupportedVersions() throws -> [ProtocolVersion]? {
        try decode(.supportedVersions) { reader in
            try reader.readVector(prefixBytes: 1, lengths: 2...254, "supported_versions") {
                ProtocolVersion(rawValue: try $0.readUInt16("ProtocolVersion"))
            }
        }
    }

    /// `supported_groups`: `NamedGroup named_group_list<2..2^16-1>`.
    func supportedGroups() throws -> [NamedGroup]? {
        try decode(.supportedGroups) { reader in
            try reader.readVector(prefixBytes: 2, lengths: 2...0xFFFF, "named_group_list") {
                NamedGroup(rawValue: try $0.readUInt16("NamedGroup"))
            }
        }
    }

    /// `signature_algorithms`: `SignatureScheme supported_signature_algorithms<2..2^16-2>`.
    func signatureAlgorithms() throws -> [SignatureScheme]? {
        try decode(.signatureAlgorithms) { reader in
            try reader.readVector(prefixBytes: 2, lengths: 2...0xFFFE, "supported_signature_algorithms") {
                SignatureScheme(rawValue: try $0.readUInt16("SignatureScheme"))
            }
        }
    }

    /// `key_share` in a ClientHello: `KeyShareEntry client_shares<0..2^16-1>`.
    func clientKeyShares() throws -> [KeyShareEntry]? {
        try decode(.keyShare) { reader in
            try reader.readVector(prefixBytes: 2, lengths: 0...0xFFFF, "client_shares") {
                try KeyShareEntry.read(from: &$0)
            }
        }
    }

    /// The `host_name` of `server_name` (RFC 6066 §3), lowercased; other name types are skipped.
    func serverName() throws -> String? {
        let names: [String]? = try decode(.serverName) { reader in
            try reader.readVector(prefixBytes: 2, lengths: 1...0xFFFF, "server_name_list") { entry -> String? in
                let nameType = try entry.readUInt8("NameType")
                let name = try entry.readOpaque(prefixBytes: 2, lengths: 1...0xFFFF, "HostName")
                guard nameType == Self.hostNameType else { return nil }
                return String(decoding: name, as: UTF8.self).lowercased()
            }.compactMap { $0 }
        }
        return names?.first
    }

    /// `NameType host_name` (RFC 6066 §3).
    static let hostNameType: UInt8 = 0

    /// `application_layer_protocol_negotiation`: `ProtocolName protocol_name_list<2..2^16-1>` (RFC 7301 §3.1).
    func applicationProtocols() throws -> [[UInt8]]? {
        try decode(.applicationLayerProtocolNegotiation) { reader in
            try reader.readVector(prefixBytes: 2, lengths: 2...0xFFFF, "protocol_name_list") {
                try $0.readOpaque(prefixBytes: 1, lengths: 1...255, "ProtocolName")
            }
        }
    }

    /// `psk_key_exchange_modes`: `PskKeyExchangeMode ke_modes<1..255>`.
    func pskKeyExchangeModes() throws -> [PSKKeyExchangeMode]? {
        try decode(.pskKeyExchangeModes) { reader in
            try reader.readVector(prefixBytes: 1, lengths: 1...255, "ke_modes") {
                PSKKeyExchangeMode(rawValue: try $0.readUInt8("PskKeyExchangeMode"))
            }
        }
    }

    /// `record_size_limit`: `uint16 RecordSizeLimit` (RFC 8449 §4).
    func recordSizeLimit() throws -> Int? {
        try decode(.recordSizeLimit) { Int(try $0.readUInt16("RecordSizeLimit")) }
    }

    /// `pre_shared_key` in a ClientHello.
    func offeredPSKs() throws -> OfferedPSKs? {
        try decode(.preSharedKey) { reader in
            let identities = try reader.readVector(prefixBytes: 2, lengths: 7...0xFFFF, "identities") { entry in
                PSKIdentity(identity: try entry.readOpaque(prefixBytes: 2, lengths: 1...0xFFFF, "identity"),
                            obfuscatedTicketAge: try entry.readUInt32("obfuscated_ticket_age"))
            }
            let bindersStart = reader.offset
            let binders = try reader.readVector(prefixBytes: 2, lengths: 33...0xFFFF, "binders") {
                try $0.readOpaque(prefixBytes: 1, lengths: 32...255, "PskBinderEntry")
            }
            guard binders.count == identities.count else {
                throw TLSError(.illegalParameter, "pre_shared_key has \(identities.count) identities and \(binders.count) binders")
            }
            return OfferedPSKs(identities: identities, binders: binders, bindersLength: reader.offset - bindersStart)
        }
    }
}
