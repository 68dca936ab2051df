import Foundation

extension LoadSummary {
    /// Formats the human-readable report: one labelled line per fact, units stated.
    func text() -> String {
        var lines: [String] = []
        func line(_ label: String, _ value: String) {
            lines.append(label.padding(toLength: 14, withPad: " ", startingAt: 0) + value)
        }

        line("Target:", "\(target) (\(address))")
        var pacing = ""
        if let concurrency { pacing = "closed loop, \(concurrency) connections in flight" }
        if let ratePerSecond, let maxInFlight {
            pacing = "open loop, \(Self.format(ratePerSecond)) connections per second, at most \(maxInFlight) in flight"
        }
        line("Mode:", "\(mode), \(pacing), \(threads) thread\(threads == 1 ? "" : "s")")
        if let negotiated {
            line("Negotiated:", "\(negotiated.version), \(negotiated.cipherSuite), group \(negotiated.group), ALPN \(negotiated.alpn ?? "none")")
        }
        line("Elapsed:", "\(Self.format(elapsedSeconds, digits: 3)) s")
        let succeeded = connectionsStarted - errors.total
        line("Connections:", "\(connectionsStarted) started, \(max(succeeded, 0)) succeeded, \(errors.total) failed"
             + (missedStarts > 0 ? ", \(missedStarts) start(s) missed: --max-in-flight reached" : ""))
        line("Handshakes:", "\(handshakes), \(Self.format(handshakesPerSecond)) per second; sessions reused: \(sessionsReused)"
             + (primingHandshakes > 0 ? "; priming handshakes: \(primingHandshakes)" : ""))
        if requests > 0 || mode.hasPrefix("get") {
            line("Requests:", "\(requests), \(Self.format(requestsPerSecond)) per second")
        }
        if let latency = handshakeLatencyMs {
            line("Handshake:", "latency in ms (connect start to handshake done): " + Self.format(latency))
        }
        if let latency = requestLatencyMs {
            line("Request:", "latency in ms (handshake done to last response byte): " + Self.format(latency))
        }
        line("Errors:", "\(errors.total) (connect refused \(errors.connectRefused), timeout \(errors.timeout), "
             + "alert received \(errors.alertReceived), verify failed \(errors.verifyFailed), other \(errors.other))")
        for detail in errors.details {
            line("", "\(detail.count) x \(LoadFailure(detail.kind, detail.detail))")
        }
        return lines.joined(separator: "\n")
    }

    static func format(_ latency: Latency) -> String {
        "p50 \(format(latency.p50, digits: 3)), p90 \(format(latency.p90, digits: 3)), "
            + "p99 \(format(latency.p99, digits: 3)), max \(format(latency.max, digits: 3)), "
            + "mean \(format(latency.mean, digits: 3))"
    }

    static func format(_ value: Double, digits: Int = 1) -> String {
        String(format: "%.\(digits)f", value)
    }
}
