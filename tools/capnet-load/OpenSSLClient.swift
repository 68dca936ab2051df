#if canImport(Glibc)
import Glibc
#endif
import CLibSSL

/// `LoadTLSClient` on OpenSSL's libssl: one `SSL_CTX` configured from the
/// options, shared by every worker thread (OpenSSL allows `SSL_new` on one
/// context from several threads).
final class OpenSSLClient: LoadTLSClient {
    private let context: OpaquePointer
    /// Server name indication sent on every connection; nil sends none.
    private let serverName: String?

    /// Builds the context: TLS 1.3 only, the chosen group, suites and ALPN
    /// list, and the certificate checks. Bad values are reported with the
    /// value and OpenSSL's reason.
    init(options: LoadOptions) throws(UsageError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw UsageError("cannot create an OpenSSL client context: \(Self.drainErrorQueue())")
        }
        self.context = context
        serverName = options.serverName

        guard capnet_ssl_ctx_set_tls13_only(context) == 1 else {
            throw UsageError("cannot limit OpenSSL to TLS 1.3: \(Self.drainErrorQueue())")
        }
        guard capnet_ssl_ctx_set_groups(context, options.group.openSSLName) == 1 else {
            throw UsageError("OpenSSL rejected group '\(options.group.rawValue)': \(Self.drainErrorQueue())")
        }
        if let suites = options.cipherSuites, SSL_CTX_set_ciphersuites(context, suites) != 1 {
            throw UsageError("OpenSSL rejected cipher suites '\(suites)': \(Self.drainErrorQueue())")
        }
        if !options.alpn.isEmpty {
            let wire = Self.alpnWireFormat(options.alpn)
            // SSL_CTX_set_alpn_protos returns 0 on success, unlike most calls.
            let status = wire.withUnsafeBufferPointer {
                SSL_CTX_set_alpn_protos(context, $0.baseAddress, UInt32($0.count))
            }
            guard status == 0 else {
                throw UsageError("OpenSSL rejected ALPN list '\(options.alpn.joined(separator: ","))'")
            }
        }
        capnet_ssl_ctx_ignore_unexpected_eof(context)
        try configureVerification(options)
    }

    deinit { SSL_CTX_free(context) }

    private func configureVerification(_ options: LoadOptions) throws(UsageError) {
        switch options.verification {
        case .none:
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            return
        case .caFile(let path):
            guard SSL_CTX_load_verify_locations(context, path, nil) == 1 else {
                throw UsageError("cannot load CA certificates from '\(path)': \(Self.drainErrorQueue()). Give a PEM file.")
            }
        case .systemRoots:
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw UsageError("cannot load the system CA certificates: \(Self.drainErrorQueue())")
            }
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)

        // The certificate must name the URL's host (RFC 9110 section 4.3.4).
        let parameters = SSL_CTX_get0_param(context)
        let host = options.target.host
        let status = options.target.hostIsIPLiteral
            ? X509_VERIFY_PARAM_set1_ip_asc(parameters, host)
            : X509_VERIFY_PARAM_set1_host(parameters, host, 0)
        guard status == 1 else {
            throw UsageError("cannot set '\(host)' as the name to verify: \(Self.drainErrorQueue())")
        }
    }

    func makeConnection(socket: Int32, resuming session: (any LoadTLSSession)?) throws(LoadFailure)
        -> any LoadTLSConnection {
        guard let ssl = SSL_new(context) else {
            throw LoadFailure(.other, "SSL_new failed: \(Self.drainErrorQueue())")
        }
        let connection = OpenSSLConnection(ssl: ssl)
        guard SSL_set_fd(ssl, socket) == 1 else {
            throw LoadFailure(.other, "SSL_set_fd failed: \(Self.drainErrorQueue())")
        }
        if let name = serverName, capnet_ssl_set_server_name(ssl, name) != 1 {
            throw LoadFailure(.other, "cannot set server name '\(name)': \(Self.drainErrorQueue())")
        }
        if let session = session as? OpenSSLSession, SSL_set_session(ssl, session.session) != 1 {
            throw LoadFailure(.other, "SSL_set_session failed: \(Self.drainErrorQueue())")
        }
        return connection
    }

    /// Encodes ALPN names as RFC 7301 section 3.1 ProtocolNameList entries:
    /// each name preceded by its one-byte length.
    static func alpnWireFormat(_ names: [String]) -> [UInt8] {
        var wire: [UInt8] = []
        for name in names {
            let bytes = Array(name.utf8)
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
        }
        return wire
    }

    /// Returns OpenSSL's queued errors of this thread as one line and clears them.
    static func drainErrorQueue() -> String {
        var messages: [String] = []
        var code = ERR_get_error()
        while code != 0 {
            messages.append(errorString(code))
            code = ERR_get_error()
        }
        return messages.isEmpty ? "no error reported by OpenSSL" : messages.joined(separator: "; ")
    }

    static func errorString(_ code: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: errorStringCapacity)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(cString: buffer)
    }

    /// OpenSSL's documented minimum buffer for `ERR_error_string_n` is 256 bytes.
    static let errorStringCapacity = 256
}

/// A session handle that keeps one `SSL_SESSION` reference.
final class OpenSSLSession: LoadTLSSession {
    let session: OpaquePointer
    init(session: OpaquePointer) { self.session = session }
    deinit { SSL_SESSION_free(session) }
}
