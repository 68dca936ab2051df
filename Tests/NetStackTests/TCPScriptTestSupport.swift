import CapnetBase
import HostSim
import Testing
@testable import NetStack

/// A scripted peer talking to one TCP layer, tracking both sequence spaces
/// so tests can write exact segments briefly.
final class TCPScript {
    let layer: TCPLayer
    let peer: TCPScriptedPeer
    let peerPort: UInt16
    let layerPort: UInt16
    /// The next sequence number the peer sends.
    var peerNext: TCPSeq
    /// The next sequence number expected from the layer (what the peer ACKs).
    var layerNext = TCPSeq(0)
    var useTimestamps: Bool
    /// The peer's TSval clock; tests move it forward by hand.
    var peerClock: UInt32 = 1000
    /// The latest TSval seen from the layer (echoed as TSecr).
    var layerTimestamp: UInt32 = 0
    var socket: TCPSocket?
    /// When the peer last sent a segment.
    var lastSendTime = Instant.zero
    var listener: TCPListener?

    static let peerAddress = IPv4Address(192, 0, 2, 2)
    static let layerAddress = IPv4Address(192, 0, 2, 1)
    static let peerISN = TCPSeq(0x1000_0000)

    init(timestamps: Bool = true, listen: Bool = true, peerPort: UInt16 = 40000, layerPort: UInt16 = 80,
         adjust: (inout TCPConfiguration) -> Void = { _ in }) {
        var configuration = TCPTestSupport.configuration(address: Self.layerAddress)
        adjust(&configuration)
        layer = TCPLayer(configuration: configuration)
        peer = TCPScriptedPeer(layer: layer, address: Self.peerAddress)
        self.peerPort = peerPort
        self.layerPort = layerPort
        peerNext = Self.peerISN
        useTimestamps = timestamps
        if listen { listener = try! layer.listen(port: layerPort) }  // a fresh layer has the port free
    }

    var now: Instant { peer.clock.now() }

    /// Builds a segment from the peer with the current sequence numbers and options.
    func segment(_ flags: TCPFlags, seq: TCPSeq? = nil, ack: TCPSeq? = nil, window: UInt16 = 65535,
                 options: TCPOptions? = nil, timestamp: UInt32? = nil) -> TCPHeaderRepr {
        var segmentOptions = options ?? TCPOptions()
        if options == nil && useTimestamps {
            segmentOptions.timestamps = TCPTimestamps(value: timestamp ?? peerClock, echoReply: layerTimestamp)
        }
        return TCPHeaderRepr(sourcePort: peerPort, destinationPort: layerPort, sequenceNumber: seq ?? peerNext,
                             acknowledgmentNumber: ack ?? layerNext, flags: flags, window: window,
                             options: segmentOptions)
    }

    /// Sends a segment and records the layer's TSval from the replies.
    @discardableResult
    func send(_ header: TCPHeaderRepr, payload: [UInt8] = []) -> [CapturedSegment] {
        lastSendTime = now
        let replies = peer.send(header, payload: payload)
        note(replies)
        return replies
    }

    /// Sends data at `peerNext` and advances it.
    @discardableResult
    func sendData(_ payload: [UInt8], flags: TCPFlags = [.ack, .psh], window: UInt16 = 65535) -> [CapturedSegment] {
        let header = segment(flags, window: window)
        peerNext = peerNext + payload.count + (flags.contains(.fin) ? 1 : 0)
        return send(header, payload: payload)
    }

    @discardableResult
    func advance(by span: Nanoseconds) -> [CapturedSegment] {
        let replies = peer.advance(by: span)
        note(replies)
        return replies
    }

    func note(_ replies: [CapturedSegment]) {
        for reply in replies {
            if let timestamps = reply.header.options.timestamps { layerTimestamp = timestamps.value }
        }
    }

    /// Returns the peer's SYN options: MSS 1460, SACK-permitted, timestamps if enabled, no window scale.
    func synOptions(mss: UInt16? = 1460, windowScale: UInt8? = nil, sack: Bool = true) -> TCPOptions {
        TCPOptions(maximumSegmentSize: mss, windowScale: windowScale, sackPermitted: sack,
                   timestamps: useTimestamps ? TCPTimestamps(value: peerClock, echoReply: 0) : nil)
    }

    /// RFC 9293 §3.5 three-way handshake against the listener; returns the SYN-ACK.
    @discardableResult
    func handshake(options: TCPOptions? = nil, window: UInt16 = 65535) -> CapturedSegment? {
        let replies = send(segment(.syn, ack: TCPSeq(0), window: window, options: options ?? synOptions()))
        guard let synAck = replies.first(where: { $0.header.flags == [.syn, .ack] }) else { return nil }
        peerNext = peerNext + 1
        layerNext = synAck.header.sequenceNumber + 1
        send(segment(.ack, window: window))
        socket = listener?.accept()
        return synAck
    }
}
