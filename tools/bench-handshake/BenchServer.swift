#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import CLibSSL
import TLSEngine

/// One server-side TLS connection under test, fed whole flights in memory.
protocol BenchConnection: AnyObject {
    /// Takes the client's bytes and returns the server's reply.
    func exchange(_ bytes: [UInt8]) throws -> [UInt8]
    var isEstablished: Bool { get }
    var resumed: Bool { get }
    /// Sends application data and returns the protected records.
    func seal(_ plaintext: [UInt8]) throws -> [UInt8]
    /// Takes protected records and returns how many plaintext bytes they held.
    func open(_ records: [UInt8]) throws -> Int
}

/// A kind of server that makes connections.
protocol BenchServer {
    var name: String { get }
    func makeConnection() throws -> any BenchConnection
}

// MARK: capnet

struct CapnetServer: BenchServer {
    let name = "capnet"
    let configuration: TLSServerConfiguration

    init(certificatePath: String, keyPath: String) throws {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let chain = try CertificateChain(pem: String(decoding: try readFile(certificatePath), as: UTF8.self))
        let key = try vault.importPEM(String(decoding: try readFile(keyPath), as: UTF8.self),
                                      purpose: .tlsServer, id: "bench")
        var configuration = TLSServerConfiguration(certificates: CertificateSource(try CertifiedKey(chain: chain, key: key)))
        configuration.groups = [.x25519]
        configuration.sessionTickets = SessionTicketKeys(clock: MonotonicTimeSource())
        self.configuration = configuration
    }

    func makeConnection() throws -> any BenchConnection {
        CapnetConnection(TLSServerConnection(configuration: configuration))
    }
}

final class CapnetConnection: BenchConnection {
    let server: TLSServerConnection
    private(set) var receivedBytes = 0

    init(_ server: TLSServerConnection) { self.server = server }

    func exchange(_ bytes: [UInt8]) throws -> [UInt8] {
        for event in server.receive(bytes) {
            if case .failed(let error) = event { throw BenchError("capnet server failed: \(error)") }
        }
        return server.takeOutput()
    }

    var isEstablished: Bool { server.isEstablished }
    var resumed: Bool { server.negotiated?.resumed ?? false }

    func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        try server.send(plaintext)
        return server.takeOutput()
    }

    func open(_ records: [UInt8]) throws -> Int {
        var count = 0
        for event in server.receive(records) {
            switch event {
            case .applicationData(let data): count += data.count
            case .failed(let error): throw BenchError("capnet server failed: \(error)")
            default: break
            }
        }
        return count
    }
}

// MARK: OpenSSL

struct LibSSLServer: BenchServer {
    let name = "libssl"
    let context: OpaquePointer

    init(certificatePath: String, keyPath: String) throws {
        context = try LibSSLContexts.server(certificatePath: certificatePath, keyPath: keyPath)
    }

    func makeConnection() throws -> any BenchConnection {
        LibSSLConnection(try MemoryTLS(context: context, server: true))
    }
}

final class LibSSLConnection: BenchConnection {
    let tls: MemoryTLS
    private(set) var isEstablished = false
    private var buffer = [UInt8](repeating: 0, count: RecordBench.recordLength)

    init(_ tls: MemoryTLS) { self.tls = tls }

    func exchange(_ bytes: [UInt8]) throws -> [UInt8] {
        tls.push(bytes)
        if try tls.handshake() { isEstablished = true }
        return tls.drain()
    }

    var resumed: Bool { tls.sessionReused }

    func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        try tls.write(plaintext)
        return tls.drain()
    }

    func open(_ records: [UInt8]) throws -> Int {
        tls.push(records)
        var total = 0
        while true {
            let count = try tls.read(into: &buffer)
            if count == 0 { return total }
            total += count
        }
    }
}

/// Reads a whole file; the benchmark's inputs are small PEM files.
func readFile(_ path: String) throws -> [UInt8] {
    guard let file = fopen(path, "rb") else { throw BenchError("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: readChunkLength)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk.prefix(count)
    }
    return bytes
}

let readChunkLength = 4096
