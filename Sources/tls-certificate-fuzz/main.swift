// libFuzzer target for certificate loading and the client's certificate
// verification: CertificateChain(pem:), CertificateChain(der:) with
// leafMatches, TrustStore(pem:), and TrustStore.verify (the path a
// TLSClientConnection takes on the server's Certificate message), on
// arbitrary input. It must never trap.
//
// Input: a mode byte, then the payload.
//   mode % 4 == 0: the payload is PEM text for CertificateChain and TrustStore.
//   mode % 4 == 1: the payload is a Certificate message body; its entries
//                  are verified against the fixed root.
//   mode % 4 == 2: the payload is a list of DER certificates, each a 2-byte
//                  length and bytes, verified against the fixed root.
//   mode % 4 == 3: as 2, with the payload also loaded as a trust store of
//                  one PEM block around its first certificate.
// Verification names "fuzz.invalid" (or 127.0.0.1 when bit 2 of the mode
// is set) at a fixed time inside the fixture's validity.
//
// Build and run:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address --product tls-certificate-fuzz
//   SWIFT_BACKTRACE=enable=no .build/release/tls-certificate-fuzz CORPUS_DIR
// A build without -sanitize=fuzzer runs each file named on the command line once.
#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import CFuzzerDriver
import TLSEngine

/// A throwaway P-256 root (CN=fuzz-root.invalid) and a leaf it issued for
/// DNS:fuzz.invalid, made with `openssl req`/`openssl x509 -req` for the
/// fuzz targets only. Never trust them.
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

/// A P-256 key that matches no certificate of this target, for the leafMatches check.
let unrelatedKeyPEM = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOrmG3wkd1OvMukBm
    ib28KGq8hE2FW5hwsOxBs3GJV92hRANCAASVJ6Ep8KmKeuLuf31vgNDFnDtoPdWC
    /+SXNW090g7b0KKj/Xftg/vj6k41BchSIOhCVONNkpY+s4VicmxbdVaZ
    -----END PRIVATE KEY-----
    """

/// 2027-01-01T00:00:00Z, inside the fixture's validity (2026-12-04 to 2126-11-10).
let verificationTime: Int64 = 1_798_761_600
/// Certificates taken from one input, so one input stays cheap.
let maxCertificates = 16
let modeCount: UInt8 = 4
let addressNameBit: UInt8 = 1 << 2

let fixtures: (trust: TrustStore, key: KeyHandle) = {
    do {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let key = try vault.importPEM(unrelatedKeyPEM, purpose: .tlsServer, id: "fuzz", source: .development)
        return (try TrustStore(pem: fuzzRootPEM), key)
    } catch {
        fatalError("fuzz fixture does not load: \(error)")
    }
}()

/// Splits `payload` into 2-byte-length-prefixed DER certificates.
func derList(_ payload: ArraySlice<UInt8>) -> [[UInt8]] {
    var certificates: [[UInt8]] = []
    var offset = payload.startIndex
    while offset + 2 <= payload.endIndex && certificates.count < maxCertificates {
        let length = Int(payload[offset]) << 8 | Int(payload[offset + 1])
        offset += 2
        let end = min(offset + length, payload.endIndex)
        certificates.append(Array(payload[offset..<end]))
        offset = end
    }
    return certificates
}

/// Base64 of `bytes` in 64-column lines, for a PEM block.
func base64Lines(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var text = ""
    var column = 0
    var index = 0
    while index < bytes.count {
        let chunk = bytes[index..<min(index + 3, bytes.count)]
        let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
        for position in 0..<4 {
            text.append(position <= chunk.count ? alphabet[(value >> (18 - 6 * position)) & 0x3F] : "=")
        }
        index += 3
        column += 4
        if column == 64 {
            text.append("\n")
            column = 0
        }
    }
    return text
}

func verify(_ chain: [[UInt8]], trust: TrustStore, mode: UInt8) {
    let name = mode & addressNameBit != 0 ? "127.0.0.1" : "fuzz.invalid"
    _ = try? trust.verify(chain: chain, serverName: name, time: verificationTime)
    _ = CertificateChain(der: chain).leafMatches(fixtures.key)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 1 else { return 0 }
    let mode = data[0]
    let payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch mode % modeCount {
    case 0:
        let text = String(decoding: payload, as: UTF8.self)
        if let chain = try? CertificateChain(pem: text) {
            verify(chain.certificates, trust: fixtures.trust, mode: mode)
        }
        _ = try? TrustStore(pem: text)
    case 1:
        if let message = try? CertificateMessage(body: payload) {
            verify(message.entries.map(\.certificateData), trust: fixtures.trust, mode: mode)
        }
    case 2:
        verify(derList(payload[...]), trust: fixtures.trust, mode: mode)
    default:
        let chain = derList(payload[...])
        verify(chain, trust: fixtures.trust, mode: mode)
        if let first = chain.first {
            let pem = "-----BEGIN CERTIFICATE-----\n" + base64Lines(first) + "\n-----END CERTIFICATE-----\n"
            if let trust = try? TrustStore(pem: pem) {
                verify(chain, trust: trust, mode: mode)
            }
        }
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
