import CapnetBase
import NIC

extension Interface {
    /// Maximum wait in `run` between two checks of its stop condition.
    public static let maximumRunWait = Nanoseconds.milliseconds(100)

    /// Runs one turn to completion: announces the address on the first turn,
    /// receives one batch and passes each frame through the layers, runs due
    /// timers, polls transports and services, and transmits what they sent.
    public func poll(now: Instant) {
        currentTime = now

        // 1. Announce our address once (RFC 5227 §3).
        if !hasAnnounced {
            hasAnnounced = true
            if configuration.sendsGratuitousARP { sendGratuitousARP() }
        }

        // 2. Receive one batch; every received slot goes back to the pool.
        do {
            _ = try device.receive(into: &receiveBatch, now: now)
        } catch {
            Self.log.warning("receive failed on \(device.name): \(error)")
        }
        for index in 0..<receiveBatch.count {
            receiveFrame(receiveBatch[index], now: now)
        }
        receiveBatch.releaseAll(to: device.pool)

        // 3. Timers: ARP retransmission and expiry, reassembly timeouts.
        runTimers(now: now)

        // 4. Transports and services react and send.
        for handler in handlers.values {
            var output: Interface = self
            handler.poll(now: now, output: &output)
        }
        for service in services {
            service.poll(now: now)
        }

        // 5. Transmit everything gathered in this turn.
        flushTransmitBatch(now: now)
    }

    /// The earliest time `poll` has work to do; nil when only a received
    /// frame can make work.
    public var nextDeadline: Instant? {
        if !hasAnnounced || !transmitBatch.isEmpty { return currentTime }
        var earliest = earlier(arpCache.nextDeadline, reassembler.nextDeadline)
        earliest = earlier(earliest, device.nextDeadline)
        for handler in handlers.values { earliest = earlier(earliest, handler.nextDeadline) }
        for service in services { earliest = earlier(earliest, service.nextDeadline) }
        return earliest
    }

    /// Polls until `shouldStop` returns true, waiting on the device between
    /// turns until the next deadline (at most `maximumRunWait`, so the stop
    /// condition is checked at least that often).
    public func run(clock: TimeSource, until shouldStop: () -> Bool) throws {
        while !shouldStop() {
            let now = clock.now()
            poll(now: now)
            let deadline = min(nextDeadline ?? .distantFuture, now + Self.maximumRunWait)
            if now < deadline {
                try device.wait(until: deadline, now: now)
            }
        }
    }

    private func earlier(_ first: Instant?, _ second: Instant?) -> Instant? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    func runTimers(now: Instant) {
        arpCache.poll(now: now, sendRequest: { target in
            sendARPRequest(for: target)
        }, dropFrame: { frame in
            device.pool.release(frame.slot)
            count(.arpResolutionFailed)
        })

        var expired: [(header: IPv4Repr, quote: [UInt8])] = []
        reassembler.poll(now: now, timeExceeded: { header, quote in
            expired.append((header, quote))
        }, drop: { reason in
            count(reason)
        })
        for (header, quote) in expired {
            quote.withUnsafeBytes { quote in
                let payloadPrefix = UnsafeRawBufferPointer(rebasing: quote[min(header.headerLength, quote.count)...])
                guard !Self.isICMPError(protocolNumber: header.protocolNumber, payload: payloadPrefix) else { return }
                sendICMPError(.timeExceeded(.fragmentReassemblyTimeExceeded), to: header.source, quote: quote,
                              aboutBroadcast: isBroadcast(header.destination) || header.destination.isMulticast,
                              now: now)
            }
        }
    }
}
