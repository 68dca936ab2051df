import CLibSSL

/// A failure of the benchmark's own setup or of a handshake it drives.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// Adds OpenSSL's queued errors to `context`.
    static func openSSL(_ context: String) -> BenchError {
        var messages: [String] = []
        var code = ERR_get_error()
        while code != 0 {
            var text = [CChar](repeating: 0, count: errorTextCapacity)
            ERR_error_string_n(code, &text, text.count)
            messages.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            code = ERR_get_error()
        }
        return BenchError("\(context): \(messages.isEmpty ? "no OpenSSL error queued" : messages.joined(separator: "; "))")
    }

    static let errorTextCapacity = 256
}

/// One libssl connection whose transport is a pair of memory BIOs: bytes for
/// it go in through `push`, bytes it wrote come out through `drain`.
final class MemoryTLS {
    let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer

    init(context: OpaquePointer, server: Bool) throws {
        guard let ssl = SSL_new(context) else { throw BenchError.openSSL("SSL_new") }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw BenchError.openSSL("BIO_new")
        }
        self.ssl = ssl
        self.input = input
        self.output = output
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs from here on
        if server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
    }

    deinit {
        // Without a recorded shutdown, SSL_free marks the session as not
        // resumable; the benchmark drops connections without close_notify.
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN)
        SSL_free(ssl)
    }

    func push(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBufferPointer { BIO_write(input, $0.baseAddress, Int32($0.count)) }
    }

    func drain() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBufferPointer { BIO_read(output, $0.baseAddress, Int32(pending)) }
        return Array(bytes.prefix(Int(max(read, 0))))
    }

    /// Advances the handshake; true once it completed.
    func handshake() throws -> Bool {
        let status = SSL_do_handshake(ssl)
        if status == 1 { return true }
        let error = SSL_get_error(ssl, status)
        guard error == SSL_ERROR_WANT_READ else {
            throw BenchError.openSSL("SSL_do_handshake (SSL_get_error \(error))")
        }
        return false
    }

    /// Reads pending records (session tickets, application data) into `buffer`; returns the bytes read.
    func read(into buffer: inout [UInt8]) throws -> Int {
        let status = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        if status > 0 { return Int(status) }
        let error = SSL_get_error(ssl, status)
        guard error == SSL_ERROR_WANT_READ else { throw BenchError.openSSL("SSL_read (SSL_get_error \(error))") }
        return 0
    }

    func write(_ bytes: [UInt8]) throws {
        let status = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard status == Int32(bytes.count) else { throw BenchError.openSSL("SSL_write") }
    }

    var sessionReused: Bool { SSL_session_reused(ssl) == 1 }

    /// Returns the current session for resumption. The caller frees it with `SSL_SESSION_free`.
    func session() -> OpaquePointer? { SSL_get1_session(ssl) }
}

/// libssl contexts for the benchmark: one client, one server.
enum LibSSLContexts {
    /// Makes a TLS 1.3 client context that offers only `suite` and X25519 and
    /// verifies nothing, because the benchmark measures the server and both servers use one certificate.
    static func client(suite: String) throws -> OpaquePointer {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw BenchError.openSSL("SSL_CTX_new client") }
        guard capnet_ssl_ctx_set_tls13_only(context) == 1, capnet_ssl_ctx_set_groups(context, "X25519") == 1,
              SSL_CTX_set_ciphersuites(context, suite) == 1 else {
            SSL_CTX_free(context)
            throw BenchError.openSSL("client context setup")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        return context
    }

    /// Makes a TLS 1.3 server context with the certificate and key at the given
    /// PEM paths, X25519 only, that sends one stateless ticket per handshake as capnet does.
    static func server(certificatePath: String, keyPath: String) throws -> OpaquePointer {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw BenchError.openSSL("SSL_CTX_new server") }
        guard capnet_ssl_ctx_set_tls13_only(context) == 1, capnet_ssl_ctx_set_groups(context, "X25519") == 1,
              SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1,
              SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1,
              SSL_CTX_set_num_tickets(context, ticketsPerHandshake) == 1 else {
            SSL_CTX_free(context)
            throw BenchError.openSSL("server context setup")
        }
        // Stateless tickets only, no server-side session cache, as capnet keeps none.
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_SESS_CACHE_MODE, Int(SSL_SESS_CACHE_OFF), nil)
        return context
    }

    /// capnet sends one NewSessionTicket per connection; OpenSSL's default is two.
    static let ticketsPerHandshake = 1
}
