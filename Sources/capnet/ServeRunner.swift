import CapnetBase
import Foundation
import NIC
import NetStack
import TLSEngine

/// Wires the device, the stack and the services for `capnet serve`, and runs
/// the single-threaded loop until a shutdown signal arrives.
struct ServeRunner {
    let configuration: ServeConfiguration
    private let log = Logger(.main)

    init(configuration: ServeConfiguration) { self.configuration = configuration }

    func run() -> Int32 {
        LogConfiguration.minimumLevel = configuration.logLevel
        ShutdownSignal.install()

        let device: FrameDevice
        let capture: CaptureDevice?
        let recorder: RecordingDevice?
        do {
            (device, capture, recorder) = try openDevice()
        } catch {
            log.error("failed to open the device: \(error)", "device=\(configuration.device)")
            return 1
        }

        let clock = MonotonicTimeSource()
        let interface: Interface
        do {
            var stackConfiguration = Interface.Configuration(address: configuration.address,
                                                             gateway: configuration.gateway)
            stackConfiguration.sendsGratuitousARP = true
            interface = try Interface(device: device, configuration: stackConfiguration)
        } catch {
            log.error("failed to start the stack: \(error)", "address=\(configuration.address)")
            device.close()
            return 1
        }
        defer { interface.close() }

        var tcpConfiguration = TCPConfiguration(localAddress: configuration.address.address, mtu: device.mtu,
                                                isnHash: HMACTCPSecretHash())
        tcpConfiguration.congestionControl = configuration.tcpCongestionControl
        let tcp = TCPLayer(configuration: tcpConfiguration)
        do {
            try interface.register(tcp, for: .tcp)
        } catch {
            log.error("failed to register TCP: \(error)")
            return 1
        }

        var services: [AnyObject] = []
        do {
            if let port = configuration.tcpEchoPort {
                let echo = TCPEchoService(listener: try tcp.listen(port: port))
                interface.addService(TCPServiceDriver { echo.poll() })
                services.append(echo)
                log.info("TCP echo service listening", "port=\(port)")
            }
            if let port = configuration.tcpDiscardPort {
                let discard = TCPDiscardService(listener: try tcp.listen(port: port))
                interface.addService(TCPServiceDriver { discard.poll() })
                services.append(discard)
                log.info("TCP discard service listening", "port=\(port)")
            }
        } catch {
            log.error("failed to start a TCP service: \(error)")
            return 1
        }

        if let port = configuration.udpEchoPort {
            do {
                services.append(try UDPEchoService.start(on: interface, port: port))
                log.info("UDP echo service bound", "port=\(port)")
            } catch {
                log.error("failed to start the UDP echo service: \(error)", "port=\(port)")
                return 1
            }
        }

        var web: WebService?
        if let stateDirectory = configuration.stateDirectory {
            do {
                web = try WebService(configuration: configuration, stateDirectory: stateDirectory,
                                     interface: interface, tcp: tcp,
                                     keyLog: try makeKeyLog(capture: capture, recorder: recorder),
                                     recorder: recorder, clock: clock)
            } catch {
                log.error("failed to start the Web UI: \(error)", "state_dir=\(stateDirectory)")
                return 1
            }
        }
        defer { web?.close() }

        log.info("serving", "device=\(device.name) mac=\(device.macAddress) mtu=\(device.mtu) "
            + "address=\(configuration.address) gateway=\(configuration.gateway.map(String.init(describing:)) ?? "none")")
        do {
            try interface.run(clock: clock) { ShutdownSignal.isRequested }
        } catch {
            log.error("run loop stopped: \(error)", "device=\(device.name)")
            return 1
        }
        let signalNumber = shutdownSignalNumber.load(ordering: .relaxed)
        log.info("stopping on signal \(signalNumber)", "device=\(device.name)")
        withExtendedLifetime(services) {}
        return 0
    }

    /// Builds the TLS key log from the `--keylog` file, the capture and the
    /// Web UI's recordings, or returns nil when none of them is there.
    private func makeKeyLog(capture: CaptureDevice?, recorder: RecordingDevice?) throws -> (any TLSKeyLog)? {
        var sinks: [any TLSKeyLog] = []
        if let path = configuration.keyLogPath {
            sinks.append(try KeyLogFile(path: path))
            log.notice("writing TLS secrets to a key log file; anyone with it can decrypt the traffic",
                       "file=\(path)")
        }
        if configuration.captureTLSSecrets, let capture {
            sinks.append(CaptureKeyLog(capture: capture))
            log.notice("embedding TLS secrets in the capture", "file=\(configuration.capturePath ?? "")")
        }
        // Always on with the Web UI: secrets go only into captures the admin
        // starts, while they run, and those files live in the state
        // directory with modes 0700 and 0600, readable by the admin alone.
        if let recorder {
            sinks.append(RecordingKeyLog(recorder: recorder))
        }
        switch sinks.count {
        case 0: return nil
        case 1: return sinks[0]
        default: return KeyLogFanOut(sinks)
        }
    }

    /// Frame slots for a virtio-net device: the default 256-entry queues post
    /// 128 receive buffers, and the rest are for transmit and the stack.
    static let virtioPoolSlots = 1024

    /// Opens the device and wraps it: the capture innermost, so it records the
    /// frames that crossed the wire, then the Web UI's recorder (only with
    /// `--state-dir`), and the fault injector outside them.
    private func openDevice() throws -> (FrameDevice, CaptureDevice?, RecordingDevice?) {
        var device: FrameDevice
        switch configuration.device {
        case .tap(let name):
            device = try TapDevice(name: name, mtu: configuration.mtu, macAddress: configuration.macAddress)
        case .virtio(let pciAddress):
            // The pool must hold the receive ring's buffers plus transmit room.
            let pool = FramePool(slotCount: Self.virtioPoolSlots)
            var virtioConfiguration = VirtioNetDevice.Configuration(fallbackMACAddress: configuration.macAddress,
                                                                    waitMode: configuration.virtioWaitMode)
            if let mtu = configuration.mtu { virtioConfiguration.mtu = mtu }
            device = try VirtioNetDevice(pciAddress: pciAddress, pool: pool, configuration: virtioConfiguration)
        }
        var capture: CaptureDevice?
        if let path = configuration.capturePath {
            do {
                capture = try CaptureDevice(wrapping: device, path: path)
                device = capture!
            } catch {
                device.close()
                throw error
            }
            log.info("capturing every frame", "file=\(path)")
        }
        var recorder: RecordingDevice?
        if configuration.stateDirectory != nil {
            recorder = RecordingDevice(wrapping: device)
            device = recorder!
        }
        if let impairment = configuration.impairment {
            do {
                device = try FaultInjectingDevice(wrapping: device,
                                                  options: Self.transmitByDefault(impairment))
            } catch {
                device.close()
                throw error
            }
            log.info("injecting faults", "spec=\(impairment)")
        }
        return (device, capture, recorder)
    }

    /// Applies `--impair` keys without an `rx.` or `tx.` prefix only to the
    /// frames the stack sends. Received frames are impaired with `rx.` keys or
    /// at the peer (netem, where the kernel has it), so a ping's loss rate is
    /// the probability given rather than compounded over both directions.
    static func transmitByDefault(_ specification: String) -> String {
        let directional: Set<String> = ["loss", "dup", "reorder", "delay"]
        return specification.split(separator: ",", omittingEmptySubsequences: false).map { pair in
            let key = pair.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return directional.contains(key.lowercased()) ? "tx." + pair.trimmingCharacters(in: .whitespaces) : String(pair)
        }.joined(separator: ",")
    }
}
