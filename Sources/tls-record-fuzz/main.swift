// libFuzzer target for the record layer: the record reader and its
// deprotection, with fixed keys, on arbitrary bytes. It must never trap.
//
// Input: a setup byte, a chunk-size byte, then the payload.
//   setup bits 0-1: read keys (0 none, 1 AES-128-GCM, 2 AES-256-GCM, 3 ChaCha20-Poly1305)
//   bit 2 accepts the compatibility CCS, bit 3 accepts unprotected alerts,
//   bit 4 skips unprotected early data, bit 5 sets an early data skip budget,
//   bit 6 seals the payload first, bit 7 sets the smallest record_size_limit.
// With bit 6 and keys, the payload is a list of inner plaintexts, each a
// 2-byte length and bytes, that the harness seals into records with the
// same fixed keys, so the reader gets past authentication and parses the
// inner plaintext (content, type, padding). Otherwise the payload is the
// record stream itself. The stream reaches the reader in chunks of
// (chunk-size byte + 1) bytes.
//
// Build and run:
//   swift build -c release -Xswiftc -sanitize=fuzzer,address --product tls-record-fuzz
//   SWIFT_BACKTRACE=enable=no .build/release/tls-record-fuzz CORPUS_DIR
// A build without -sanitize=fuzzer runs each file named on the command line once.
#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import CFuzzerDriver
@_spi(Fuzzing) import TLSEngine

/// Fixed traffic keys: the byte 0x4B repeated, and an IV of 0x49. Only the
/// fuzz target uses them.
let fixedKeyByte: UInt8 = 0x4B
let fixedIVByte: UInt8 = 0x49
/// The IV length of all three TLS 1.3 AEADs (RFC 8446 §5.3).
let ivLength = 12
/// `TLSCiphertext` header: opaque_type, legacy_record_version, length (RFC 8446 §5.2).
let applicationDataType: UInt8 = 23
let legacyRecordVersion: [UInt8] = [0x03, 0x03]
/// The early data skip budget with bit 5: the default max_early_data_size is
/// not fixed by the RFC; 2^14 covers one full record.
let earlyDataBudget = 1 << 14
/// The smallest record_size_limit (RFC 8449 §4): 64 bytes of inner plaintext.
let smallestRecordSizeLimit = 64
/// Records sealed per input, so one input stays cheap.
let maxSealedRecords = 64

enum SetupBit {
    static let keyMask: UInt8 = 0b11
    static let acceptsCCS: UInt8 = 1 << 2
    static let acceptsUnprotectedAlerts: UInt8 = 1 << 3
    static let skipsUnprotectedEarlyData: UInt8 = 1 << 4
    static let earlyDataBudget: UInt8 = 1 << 5
    static let seal: UInt8 = 1 << 6
    static let smallRecordLimit: UInt8 = 1 << 7
}

func algorithm(for setup: UInt8) -> AEADAlgorithm? {
    switch setup & SetupBit.keyMask {
    case 1: .aes128GCM
    case 2: .aes256GCM
    case 3: .chacha20Poly1305
    default: nil
    }
}

/// Seals each length-prefixed inner plaintext of `payload` into one record.
func sealRecords(_ payload: ArraySlice<UInt8>, algorithm: AEADAlgorithm, key: [UInt8], iv: [UInt8]) -> [UInt8] {
    guard let aead = try? CryptoProvider.shared.makeAEAD(algorithm, key: key, sealing: true) else { return [] }
    var stream: [UInt8] = []
    var offset = payload.startIndex
    var sequenceNumber: UInt64 = 0
    while offset + 2 <= payload.endIndex && sequenceNumber < UInt64(maxSealedRecords) {
        let length = Int(payload[offset]) << 8 | Int(payload[offset + 1])
        offset += 2
        let end = min(offset + length, payload.endIndex)
        let plaintext = Array(payload[offset..<end])
        offset = end
        var nonce = iv
        for i in 0..<8 {
            nonce[ivLength - 1 - i] ^= UInt8((sequenceNumber >> (8 * UInt64(i))) & 0xFF)
        }
        sequenceNumber += 1
        let recordLength = plaintext.count + algorithm.tagLength
        let header = [applicationDataType] + legacyRecordVersion + [UInt8(recordLength >> 8 & 0xFF), UInt8(recordLength & 0xFF)]
        stream += header
        stream += aead.seal(nonce: nonce, additionalData: header, plaintext: plaintext)
    }
    return stream
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let setupByte = input[0]
    let chunkSize = Int(input[1]) + 1
    let payload = input[2...]

    var keys: (algorithm: AEADAlgorithm, key: [UInt8], iv: [UInt8])?
    if let algorithm = algorithm(for: setupByte) {
        keys = (algorithm, [UInt8](repeating: fixedKeyByte, count: algorithm.keyLength),
                [UInt8](repeating: fixedIVByte, count: ivLength))
    }
    let stream: [UInt8]
    if let keys, setupByte & SetupBit.seal != 0 {
        stream = sealRecords(payload, algorithm: keys.algorithm, key: keys.key, iv: keys.iv)
    } else {
        stream = Array(payload)
    }
    let chunks = stride(from: 0, to: stream.count, by: chunkSize).map {
        Array(stream[$0..<min($0 + chunkSize, stream.count)])
    }
    let setup = TLSFuzzing.RecordReaderSetup(
        readKeys: keys,
        acceptsCompatibilityCCS: setupByte & SetupBit.acceptsCCS != 0,
        acceptsUnprotectedAlerts: setupByte & SetupBit.acceptsUnprotectedAlerts != 0,
        earlyDataSkipBudget: setupByte & SetupBit.earlyDataBudget != 0 ? earlyDataBudget : 0,
        skipsUnprotectedEarlyData: setupByte & SetupBit.skipsUnprotectedEarlyData != 0,
        receiveInnerPlaintextLimit: setupByte & SetupBit.smallRecordLimit != 0
            ? smallestRecordSizeLimit : TLSFuzzing.maxInnerPlaintextLength)
    TLSFuzzing.readRecords(chunks, setup: setup)
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
