import CapnetBase
import NetStack

/// A TCP segment a scripted peer sent or received.
public struct CapturedSegment: Sendable, CustomStringConvertible {
    public var source: IPv4Address
    public var destination: IPv4Address
    public var header: TCPHeaderRepr
    public var payload: [UInt8]
    public var time: Instant

    public var description: String { "\(header) len \(payload.count)" }
}

/// A hand-driven peer for one TCP layer: a test sends exact segments and
/// reads exactly what the layer answered, with the clock under its control.
/// Replies are parsed with checksum verification, so a bad checksum fails.
public final class TCPScriptedPeer {
    public let layer: TCPLayer
    public let clock: VirtualTimeSource
    public let address: IPv4Address
    /// Everything the layer sent, in order, not yet taken by `takeSent`.
    public private(set) var sent: [CapturedSegment] = []
    /// Datagrams that failed to parse (should stay empty).
    public private(set) var malformed = 0

    public init(layer: TCPLayer, address: IPv4Address, clock: VirtualTimeSource = VirtualTimeSource()) {
        self.layer = layer
        self.address = address
        self.clock = clock
    }

    struct CaptureOutput: IPv4Output {
        let peer: TCPScriptedPeer

        mutating func send(source: IPv4Address, destination: IPv4Address, protocolNumber: IPProtocol,
                           payloadLength: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
            var bytes = [UInt8](repeating: 0, count: payloadLength)
            bytes.withUnsafeMutableBytes { fill($0) }
            peer.capture(source: source, destination: destination, bytes: bytes)
            return true
        }
    }

    func capture(source: IPv4Address, destination: IPv4Address, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            do {
                let (header, payload) = try TCPHeaderRepr.parse(raw, source: source, destination: destination)
                sent.append(CapturedSegment(source: source, destination: destination, header: header,
                                            payload: Array(payload), time: clock.now()))
            } catch {
                malformed += 1
            }
        }
    }

    /// Delivers one segment from this peer to the layer; returns what the layer sent in answer.
    @discardableResult
    public func send(_ header: TCPHeaderRepr, payload: [UInt8] = []) -> [CapturedSegment] {
        var bytes = [UInt8](repeating: 0, count: header.headerLength + payload.count)
        bytes.withUnsafeMutableBytes { raw in
            header.emit(into: raw)
            for (i, byte) in payload.enumerated() { raw[header.headerLength + i] = byte }
            TCPHeaderRepr.fillChecksum(segment: raw, source: address, destination: layer.configuration.localAddress)
        }
        return sendRaw(bytes)
    }

    /// Delivers raw TCP bytes (for corrupt-input tests).
    @discardableResult
    public func sendRaw(_ bytes: [UInt8]) -> [CapturedSegment] {
        var output = CaptureOutput(peer: self)
        bytes.withUnsafeBytes { raw in
            layer.receive(source: address, destination: layer.configuration.localAddress, payload: raw,
                          now: clock.now(), output: &output)
        }
        // Socket calls and immediate sends happen at the same instant.
        return pollDue()
    }

    /// Advances the clock by `span`, polling the layer at each deadline on the way.
    @discardableResult
    public func advance(by span: Nanoseconds) -> [CapturedSegment] {
        let end = clock.now() + span
        var steps = 0
        while steps < Self.maximumPollsPerAdvance {
            steps += 1
            guard let due = layer.nextDeadline, due <= end else { break }
            clock.advance(to: due)
            var output = CaptureOutput(peer: self)
            layer.poll(now: clock.now(), output: &output)
        }
        clock.advance(to: end)
        return takeSent()
    }

    /// Bound on polls in one `advance`, so a timer bug cannot hang a test.
    static let maximumPollsPerAdvance = 100_000

    /// Polls the layer while it has work due now; returns and clears what it sent.
    @discardableResult
    public func pollDue() -> [CapturedSegment] {
        var steps = 0
        while steps < Self.maximumPollsPerInstant, let due = layer.nextDeadline, due <= clock.now() {
            steps += 1
            var output = CaptureOutput(peer: self)
            layer.poll(now: clock.now(), output: &output)
        }
        return takeSent()
    }

    /// Bound on polls at one instant.
    static let maximumPollsPerInstant = 100

    /// Returns and clears the captured segments.
    public func takeSent() -> [CapturedSegment] {
        defer { sent.removeAll() }
        return sent
    }
}
