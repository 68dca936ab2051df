// libFuzzer target for the TLS server: each input is the byte stream a
// client sends, fed to a fresh TLSServerConnection.
//
// Build and run:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address --product tls-fuzz
//   SWIFT_BACKTRACE=enable=no .build/release/tls-fuzz CORPUS_DIR
// A build without -sanitize=fuzzer runs each file named on the command line once.
#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import CFuzzerDriver
import TLSEngine

/// A throwaway self-signed P-256 certificate and key for the fuzz target only
/// (CN=fuzz.invalid), made with `openssl req -x509 -newkey ec`. Never trust it.
let fuzzCertificatePEM = """
    -----BEGIN CERTIFICATE-----
    MIIBhTCCASugAwIBAgIUGC1nBbrkiFAQ7lXQsOjqIe/VkRYwCgYIKoZIzj0EAwIw
    FzEVMBMGA1UEAwwMZnV6ei5pbnZhbGlkMCAXDTI2MTIwNDIwNDc0MloYDzIxMjYx
    MTEwMjA0NzQyWjAXMRUwEwYDVQQDDAxmdXp6LmludmFsaWQwWTATBgcqhkjOPQIB
    BggqhkjOPQMBBwNCAASVJ6Ep8KmKeuLuf31vgNDFnDtoPdWC/+SXNW090g7b0KKj
    /Xftg/vj6k41BchSIOhCVONNkpY+s4VicmxbdVaZo1MwUTAdBgNVHQ4EFgQUj+7q
    QSqK39SlSD6vHAcbhGvFd+wwHwYDVR0jBBgwFoAUj+7qQSqK39SlSD6vHAcbhGvF
    d+wwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAzCibxlnxs+p58
    kNX17BPed/FYStt1NksS3EC7AtrOowIhAKkqokd6W9DY+qES3kYBcKfuDhwh0zjN
    ev21VdCRJQ9a
    -----END CERTIFICATE-----
    """
let fuzzKeyPEM = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOrmG3wkd1OvMukBm
    ib28KGq8hE2FW5hwsOxBs3GJV92hRANCAASVJ6Ep8KmKeuLuf31vgNDFnDtoPdWC
    /+SXNW090g7b0KKj/Xftg/vj6k41BchSIOhCVONNkpY+s4VicmxbdVaZ
    -----END PRIVATE KEY-----
    """

let fuzzConfiguration: TLSServerConfiguration = {
    do {
        let vault = try KeyVault(storage: .memory, profile: .development)
        let key = try vault.importPEM(fuzzKeyPEM, purpose: .tlsServer, id: "fuzz", source: .development)
        let certified = try CertifiedKey(chain: try CertificateChain(pem: fuzzCertificatePEM), key: key)
        var configuration = TLSServerConfiguration(certificates: CertificateSource(certified))
        configuration.applicationProtocols = ["http/1.1"]
        return configuration
    } catch {
        fatalError("fuzz fixture does not load: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let server = TLSServerConnection(configuration: fuzzConfiguration)
    _ = server.receive(Array(UnsafeBufferPointer(start: data, count: size)))
    _ = server.takeOutput()
    return 0
}

// Every rejected input would log a line; only errors matter while fuzzing.
LogConfiguration.minimumLevel = .error

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = capnet_run_fuzzer(&argc, &argv) { data, size in fuzzTestOneInput(data, size) }
if status >= 0 { exit(status) }

// No libFuzzer linked: replay each named file once.
for path in CommandLine.arguments.dropFirst() {
    guard let file = fopen(path, "rb") else {
        fputs("tls-fuzz: cannot open \(path)\n", stderr)
        exit(1)
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    fclose(file)
    _ = bytes.withUnsafeBufferPointer { fuzzTestOneInput($0.baseAddress, $0.count) }
    print("replayed \(path): \(bytes.count) bytes")
}
