import Foundation
@testable import TLSEngine

/// A test CA made with the openssl command line tool, and server chains it
/// issued with fixed validity dates, so verification runs at an explicit time.
final class ClientInteropCA: @unchecked Sendable {
    let fixtures: CertificateFixtures
    var directory: String { fixtures.directory }
    var caPath: String { directory + "/ca.pem" }
    /// The name and address every leaf carries in subjectAltName.
    static let hostName = "localhost"
    static let address = "127.0.0.1"
    /// Leaf validity, as `openssl ca -startdate/-enddate` takes it.
    static let leafNotBefore = "20260101000000Z"
    static let leafNotAfter = "20360101000000Z"
    /// 2030-01-01T00:00:00Z: inside every leaf's and the CA's validity.
    static let insideValidity: Int64 = 1_893_456_000
    /// 2040-01-01T00:00:00Z: after every leaf's notAfter.
    static let afterValidity: Int64 = 2_208_988_800
    /// The CA is valid from its creation for this many days, past `insideValidity`.
    static let caValidityDays = "7300"

    init() throws {
        fixtures = try CertificateFixtures()
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", directory + "/ca.key", "-out", caPath, "-days", Self.caValidityDays,
                     "-subj", "/CN=capnet client interop CA",
                     "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign"])
        let configuration = """
            [ca]
            default_ca = test
            [test]
            database = \(directory)/index.txt
            new_certs_dir = \(directory)
            serial = \(directory)/serial
            default_md = sha256
            policy = any
            unique_subject = no
            copy_extensions = copy
            [any]
            commonName = supplied

            """
        try configuration.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
    }

    /// Issues a leaf of `type` for `hostName` and `address`; returns the chain (leaf, CA) and key paths.
    func issue(_ type: CertificateFixtures.KeyType) throws -> (chain: String, key: String) {
        let base = "\(directory)/leaf-\(type.rawValue)"
        try openssl(["req"] + type.opensslArguments + ["-nodes", "-keyout", base + ".key", "-out", base + ".csr",
                     "-subj", "/CN=\(Self.hostName)",
                     "-addext", "subjectAltName=DNS:\(Self.hostName),IP:\(Self.address)",
                     "-addext", "extendedKeyUsage=serverAuth"])
        try openssl(["ca", "-batch", "-config", directory + "/ca.cnf", "-cert", caPath, "-keyfile", directory + "/ca.key",
                     "-in", base + ".csr", "-out", base + ".crt", "-notext",
                     "-startdate", Self.leafNotBefore, "-enddate", Self.leafNotAfter])
        let chain = try String(contentsOfFile: base + ".crt", encoding: .utf8) + String(contentsOfFile: caPath, encoding: .utf8)
        try chain.write(toFile: base + "-chain.pem", atomically: true, encoding: .utf8)
        return (base + "-chain.pem", base + ".key")
    }

    /// A client configuration trusting only this CA, verifying at `time`.
    func clientConfiguration(time: Int64 = ClientInteropCA.insideValidity) throws -> TLSClientConfiguration {
        var configuration = TLSClientConfiguration(trustStore: try TrustStore(pem: String(contentsOfFile: caPath, encoding: .utf8)))
        configuration.verificationTime = { time }
        return configuration
    }

    private func openssl(_ arguments: [String]) throws {
        let result = try PeerProcess.run("/usr/bin/openssl", arguments)
        guard result.status == 0 else { throw FixtureError("openssl \(arguments[0]) failed: \(result.output)") }
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for peers that cannot
/// report the port the kernel picked for them.
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw FixtureError("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw FixtureError("bind to 127.0.0.1:0 failed: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}

/// `gnutls-serv --http` for TLS 1.3 only. It has no option for its listening
/// address: it listens on every interface, and the tests connect to 127.0.0.1 only.
final class GnuTLSServer {
    let process: PeerProcess
    let port: UInt16

    init(chain: String, key: String) throws {
        port = try freeLoopbackPort()
        process = try PeerProcess("/usr/bin/gnutls-serv", [
            "--http", "--port", "\(port)", "--x509certfile", chain, "--x509keyfile", key,
            "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3",
        ])
        // It prints "done" once the socket listens.
        guard process.waitForOutput(containing: "IPv4 0.0.0.0 port \(port)...done") else {
            process.stop()
            throw FixtureError("gnutls-serv did not start: \(process.output)")
        }
    }

    func stop() { process.stop() }
}

/// A Python `ssl` server (the pyenv python3 on PATH) on 127.0.0.1 with a
/// kernel-chosen port. It serves one connection, replies with the protocol
/// version and cipher it negotiated, and sends close_notify.
final class PythonTLSServer {
    let process: PeerProcess
    let port: UInt16
    /// How long the server waits for the connection and for each read.
    static let socketTimeoutSeconds = 10

    static let script = """
        import socket, ssl, sys
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(int(sys.argv[3]))
        print("PORT", listener.getsockname()[1], "LISTENING", flush=True)
        connection, _ = listener.accept()
        connection.settimeout(int(sys.argv[3]))
        tls = context.wrap_socket(connection, server_side=True)
        tls.recv(4096)
        tls.sendall(("HTTP/1.0 200 OK\\r\\n\\r\\n%s %s\\n" % (tls.version(), tls.cipher()[0])).encode())
        try:
            tls.unwrap()
        except (OSError, ssl.SSLError):
            pass
        print("DONE", tls.version(), flush=True)
        """

    init(chain: String, key: String) throws {
        process = try PeerProcess("/usr/bin/env", ["python3", "-c", Self.script, chain, key, "\(Self.socketTimeoutSeconds)"])
        guard process.waitForOutput(containing: " LISTENING"),
              let line = process.output.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }),
              let port = UInt16(line.split(separator: " ")[1]) else {
            process.stop()
            throw FixtureError("python ssl server did not start: \(process.output)")
        }
        self.port = port
    }

    func stop() { process.stop() }
}
