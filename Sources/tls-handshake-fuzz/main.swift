// libFuzzer target for the handshake message parsers: every message type
// (ClientHello, ServerHello, EncryptedExtensions, Certificate,
// CertificateRequest, CertificateVerify, NewSessionTicket, KeyUpdate, Finished) and every
// extension decoder, on arbitrary bytes. It must never trap.
//
// Input: a mode byte, then a stream of handshake messages (type, 3-byte
// length, body). Every mode runs each parser on each message. An odd mode
// byte also sends the stream, framed as handshake records, to a fresh
// TLSClientConnection that has sent its ClientHello, so the client's
// ServerHello and HelloRetryRequest processing runs too.
//
// Build and run:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address --product tls-handshake-fuzz
//   SWIFT_BACKTRACE=enable=no .build/release/tls-handshake-fuzz CORPUS_DIR
// A build without -sanitize=fuzzer runs each file named on the command line once.
#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import CFuzzerDriver
@_spi(Fuzzing) import TLSEngine

/// `TLSPlaintext` header fields for a handshake record (RFC 8446 §5.1).
let handshakeContentType: UInt8 = 22
let legacyRecordVersion: [UInt8] = [0x03, 0x03]
/// The largest `TLSPlaintext.fragment` (RFC 8446 §5.1).
let maxFragmentLength = 1 << 14
/// A mode byte with this bit set also drives a client connection.
let clientModeBit: UInt8 = 1

/// A throwaway self-signed P-256 root (CN=fuzz-root.invalid), made with
/// `openssl req -x509 -newkey ec` for the fuzz targets only. Never trust it.
let fuzzRootPEM = """
    -----BEGIN CERTIFICATE-----
    MIIBnzCCAUWgAwIBAgIUXLbFLfnyUsgww5TDKIJDmPIsbq8wCgYIKoZIzj0EAwIw
    HDEaMBgGA1UEAwwRZnV6ei1yb290LmludmFsaWQwIBcNMjYxMjA0MjEzODE2WhgP
    MjEyNjExMTAyMTM4MTZaMBwxGjAYBgNVBAMMEWZ1enotcm9vdC5pbnZhbGlkMFkw
    EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdVSG/pMS6Xe0mSDjgbIo1TKqk1q9aVgS
    MsLcwxiHL+dRUUyxBYdR6eHTkN6274hIIgw/PE1evaqdn/rroiie86NjMGEwHQYD
    VR0OBBYEFNiLh5C9eT5pLudUqJaGcBGzBgGBMB8GA1UdIwQYMBaAFNiLh5C9eT5p
    LudUqJaGcBGzBgGBMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgIEMAoG
    CCqGSM49BAMCA0gAMEUCIF1Kt8eXTnyfb7JPIg6AXCTtOdVmE77EFfYQUcD5CJ7H
    AiEA5+g41bU1A90syCoDp+rQUmKV3FuAgwjXgF5Y18pc/Xc=
    -----END CERTIFICATE-----
    """

let clientConfiguration: TLSClientConfiguration = {
    do {
        var configuration = TLSClientConfiguration(trustStore: try TrustStore(pem: fuzzRootPEM))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return configuration
    } catch {
        fatalError("fuzz fixture does not load: \(error)")
    }
}()

/// Frames `stream` as handshake records of at most `maxFragmentLength` bytes.
func handshakeRecords(_ stream: [UInt8]) -> [UInt8] {
    var records: [UInt8] = []
    var offset = 0
    while offset < stream.count {
        let end = min(offset + maxFragmentLength, stream.count)
        let length = end - offset
        records += [handshakeContentType] + legacyRecordVersion + [UInt8(length >> 8), UInt8(length & 0xFF)]
        records += stream[offset..<end]
        offset = end
    }
    return records
}

/// Where a ServerHello's legacy_session_id_echo starts in the stream:
/// handshake header, legacy_version, random, then the length byte (RFC 8446 §4.1.3).
let sessionIDEchoLengthOffset = 4 + 2 + 32
let recordHeaderLength = 5

/// The client's legacy_session_id is random, so no stored input could echo
/// it: when the stream starts with a ServerHello echoing 32 bytes, those
/// bytes become the ones the client sent.
func echoingSessionID(of clientRecords: [UInt8], in stream: [UInt8]) -> [UInt8] {
    guard clientRecords.count > recordHeaderLength + 4,
          let hello = try? ClientHello(body: Array(clientRecords[(recordHeaderLength + 4)...])) else { return stream }
    let sessionID = hello.legacySessionID
    let start = sessionIDEchoLengthOffset + 1
    guard stream.count >= start + sessionID.count, stream[0] == HandshakeType.serverHello.rawValue,
          Int(stream[sessionIDEchoLengthOffset]) == sessionID.count else { return stream }
    var patched = stream
    patched.replaceSubrange(start..<(start + sessionID.count), with: sessionID)
    return patched
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let mode = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    TLSFuzzing.parseHandshakeMessages(stream)
    if mode & clientModeBit != 0, let client = try? TLSClientConnection(configuration: clientConfiguration,
                                                                         serverName: "fuzz.invalid") {
        let hello = client.takeOutput()
        _ = client.receive(handshakeRecords(echoingSessionID(of: hello, in: stream)))
        _ = client.takeOutput()
    }
    return 0
}

// Every rejected input would log a line; only errors matter while fuzzing.
LogConfiguration.minimumLevel = .error

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = capnet_run_fuzzer(&argc, &argv) { data, size in fuzzTestOneInput(data, size) }
if status >= 0 { exit(status) }
// No libFuzzer linked: replay each named file once.
exit(capnet_replay_files(CommandLine.argc, CommandLine.unsafeArgv) { data, size in fuzzTestOneInput(data, size) })
