#if canImport(Glibc)
import Glibc
#endif
import CLibSSL

/// One nonblocking client connection on an `SSL` object.
///
/// OpenSSL's error queue is per thread, so each call clears it first and
/// reads it right after, before another connection on this thread runs.
final class OpenSSLConnection: LoadTLSConnection {
    private let ssl: OpaquePointer

    init(ssl: OpaquePointer) { self.ssl = ssl }

    deinit { SSL_free(ssl) }

    func handshake() -> TLSStepResult {
        ERR_clear_error()
        let result = SSL_connect(ssl)
        if result == 1 { return .complete(0) }
        return classify(result)
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TLSStepResult {
        ERR_clear_error()
        let result = SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        if result > 0 { return .complete(Int(result)) }
        return classify(result)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSStepResult {
        ERR_clear_error()
        let result = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if result > 0 { return .complete(Int(result)) }
        return classify(result)
    }

    var sessionWasReused: Bool { SSL_session_reused(ssl) == 1 }

    func resumableSession() -> (any LoadTLSSession)? {
        // In TLS 1.3 the session becomes resumable only once a
        // NewSessionTicket has arrived (RFC 8446 section 4.6.1).
        guard let session = SSL_get1_session(ssl) else { return nil }
        guard SSL_SESSION_is_resumable(session) == 1 else {
            SSL_SESSION_free(session)
            return nil
        }
        return OpenSSLSession(session: session)
    }

    var negotiated: NegotiatedParameters {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "unknown"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }
        var alpnBytes: UnsafePointer<UInt8>?
        var alpnLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &alpnBytes, &alpnLength)
        var alpn: String?
        if let alpnBytes, alpnLength > 0 {
            alpn = String(decoding: UnsafeBufferPointer(start: alpnBytes, count: Int(alpnLength)), as: UTF8.self)
        }
        return NegotiatedParameters(
            version: version,
            cipherSuite: cipher.map { String(cString: $0) } ?? "unknown",
            group: Self.groupName(nid: capnet_ssl_negotiated_group(ssl)),
            alpn: alpn)
    }

    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Names a group as `--group` spells it, or by OpenSSL's short name.
    static func groupName(nid: Int32) -> String {
        switch nid {
        case NID_X25519: return LoadOptions.Group.x25519.rawValue
        case NID_X9_62_prime256v1: return LoadOptions.Group.p256.rawValue
        case NID_secp384r1: return LoadOptions.Group.p384.rawValue
        default: return OBJ_nid2sn(nid).map { String(cString: $0) } ?? "unknown"
        }
    }

    // MARK: Errors

    /// Turns a failed call's result into a step result, sorting fatal errors
    /// into the report's kinds.
    private func classify(_ result: Int32) -> TLSStepResult {
        let savedErrno = errno
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_SYSCALL:
            let queued = ERR_peek_error()
            if queued != 0 { return .failed(failureFromErrorQueue()) }
            if savedErrno == 0 { return .closed }
            return .failed(Self.failure(errno: savedErrno))
        case SSL_ERROR_SSL:
            return .failed(failureFromErrorQueue())
        default:
            ERR_clear_error()
            return .failed(LoadFailure(.other, "unexpected SSL_get_error result \(error)"))
        }
    }

    /// Reads the first queued error: a received alert, a verification
    /// failure with its X.509 reason, or anything else by OpenSSL's text.
    private func failureFromErrorQueue() -> LoadFailure {
        let code = ERR_peek_error()
        let reason = Int32(ERR_GET_REASON(code))
        let alertOffset = capnet_ssl_alert_reason_offset()
        defer { ERR_clear_error() }

        if ERR_GET_LIB(code) == ERR_LIB_SSL {
            if reason == capnet_ssl_reason_certificate_verify_failed() {
                let verifyResult = SSL_get_verify_result(ssl)
                let text = X509_verify_cert_error_string(verifyResult).map { String(cString: $0) } ?? "unknown"
                return LoadFailure(.verifyFailed, text)
            }
            // OpenSSL reports a received alert as its reason offset plus the
            // AlertDescription code (RFC 8446 section 6).
            if reason >= alertOffset, reason < alertOffset + Self.alertDescriptionCount {
                let description = String(cString: SSL_alert_desc_string_long(reason - alertOffset))
                return LoadFailure(.alertReceived, description)
            }
        }
        let reasonText = ERR_reason_error_string(code).map { String(cString: $0) }
        return LoadFailure(.other, reasonText ?? OpenSSLClient.errorString(code))
    }

    /// AlertDescription is one byte (RFC 8446 section 6).
    private static let alertDescriptionCount: Int32 = 256

    static func failure(errno code: Int32) -> LoadFailure {
        if code == ECONNREFUSED { return LoadFailure(.connectRefused, "connection refused") }
        if code == ETIMEDOUT { return LoadFailure(.timeout, "connection timed out in the kernel") }
        return LoadFailure(.other, String(cString: strerror(code)).lowercased())
    }
}
