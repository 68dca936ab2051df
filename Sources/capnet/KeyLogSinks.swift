import CapnetBase
import NIC
import TLSEngine

/// Sends each TLS secret to several key logs (a file and a capture).
final class KeyLogFanOut: TLSKeyLog, @unchecked Sendable {
    private let sinks: [any TLSKeyLog]

    init(_ sinks: [any TLSKeyLog]) { self.sinks = sinks }

    func record(label: String, clientRandom: [UInt8], secret: [UInt8]) {
        for sink in sinks { sink.record(label: label, clientRandom: clientRandom, secret: secret) }
    }
}

/// Writes TLS secrets into a pcapng capture as Decryption Secrets Blocks, so
/// Wireshark and tshark decrypt the capture with no separate key file.
///
/// Used only from the run loop's thread, like the capture device itself.
final class CaptureKeyLog: TLSKeyLog, @unchecked Sendable {
    private let capture: CaptureDevice
    private let log = Logger(.tls)

    init(capture: CaptureDevice) { self.capture = capture }

    func record(label: String, clientRandom: [UInt8], secret: [UInt8]) {
        let line = Self.line(label: label, clientRandom: clientRandom, secret: secret) + "\n"
        do {
            try capture.appendTLSKeyLog(line)
        } catch {
            // The secret itself is never logged, only that one was lost.
            log.warning("cannot write a TLS secret into the capture: \(error)", "label=\(label)")
        }
    }
}

/// Writes TLS secrets into every capture the operator is recording through
/// the Web UI, as Decryption Secrets Blocks, so a downloaded capture decrypts
/// in Wireshark and tshark with no key file.
///
/// Only connections whose handshake happens while a capture runs have their
/// secrets in it: a connection established before the capture started stays
/// encrypted there.
///
/// Used only from the run loop's thread, like the recording device itself.
final class RecordingKeyLog: TLSKeyLog, @unchecked Sendable {
    private let recorder: RecordingDevice

    init(recorder: RecordingDevice) { self.recorder = recorder }

    // NOTE: the secrets of connections still open when a capture starts are
    // not written into it. They would not help: key log lines are keyed by
    // the ClientHello's random, and Wireshark learns a connection's random
    // from its ClientHello, which such a capture does not contain.
    func record(label: String, clientRandom: [UInt8], secret: [UInt8]) {
        guard !recorder.activeRecordings.isEmpty else { return }
        recorder.appendTLSKeyLog(Self.line(label: label, clientRandom: clientRandom, secret: secret) + "\n")
    }
}
