import CapnetBase
import Foundation
import NIC
import NetStack

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
        do {
            device = try openDevice()
        } catch {
            log.error("cannot open device: \(error)", "device=\(configuration.device)")
            return 1
        }

        let interface: Interface
        do {
            var stackConfiguration = Interface.Configuration(address: configuration.address,
                                                             gateway: configuration.gateway)
            stackConfiguration.sendsGratuitousARP = true
            interface = try Interface(device: device, configuration: stackConfiguration)
        } catch {
            log.error("cannot start the stack: \(error)", "address=\(configuration.address)")
            device.close()
            return 1
        }
        defer { interface.close() }

        var services: [AnyObject] = []
        if let port = configuration.udpEchoPort {
            do {
                services.append(try UDPEchoService.start(on: interface, port: port))
                log.info("UDP echo service bound", "port=\(port)")
            } catch {
                log.error("cannot start the UDP echo service: \(error)", "port=\(port)")
                return 1
            }
        }

        log.info("serving", "device=\(device.name) mac=\(device.macAddress) mtu=\(device.mtu) "
            + "address=\(configuration.address) gateway=\(configuration.gateway.map(String.init(describing:)) ?? "none")")
        do {
            try interface.run(clock: MonotonicTimeSource()) { ShutdownSignal.isRequested }
        } catch {
            log.error("run loop stopped: \(error)", "device=\(device.name)")
            return 1
        }
        let signalNumber = shutdownSignalNumber.load(ordering: .relaxed)
        log.info("stopping on signal \(signalNumber)", "device=\(device.name)")
        withExtendedLifetime(services) {}
        return 0
    }

    /// Frame slots for a virtio-net device: the default 256-entry queues post
    /// 128 receive buffers, and the rest are for transmit and the stack.
    static let virtioPoolSlots = 1024

    /// Opens the device and wraps it: the capture innermost, so it records the
    /// frames that crossed the wire, and the fault injector outside it.
    private func openDevice() throws -> FrameDevice {
        var device: FrameDevice
        switch configuration.device {
        case .tap(let name):
            device = try TapDevice(name: name, mtu: configuration.mtu, macAddress: configuration.macAddress)
        case .virtio(let pciAddress):
            // The pool must hold the receive ring's buffers plus transmit room.
            let pool = FramePool(slotCount: Self.virtioPoolSlots)
            var virtioConfiguration = VirtioNetDevice.Configuration(fallbackMACAddress: configuration.macAddress)
            if let mtu = configuration.mtu { virtioConfiguration.mtu = mtu }
            device = try VirtioNetDevice(pciAddress: pciAddress, pool: pool, configuration: virtioConfiguration)
        }
        if let path = configuration.capturePath {
            do {
                device = try CaptureDevice(wrapping: device, path: path)
            } catch {
                device.close()
                throw error
            }
            log.info("capturing every frame", "file=\(path)")
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
        return device
    }

    /// Applies `--impair` keys without an `rx.` or `tx.` prefix to the frames
    /// the stack sends only. The kernel side impairs the other direction with
    /// netem, so a ping sees the loss rate given, not its square.
    static func transmitByDefault(_ specification: String) -> String {
        let directional: Set<String> = ["loss", "dup", "reorder", "delay"]
        return specification.split(separator: ",", omittingEmptySubsequences: false).map { pair in
            let key = pair.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return directional.contains(key.lowercased()) ? "tx." + pair.trimmingCharacters(in: .whitespaces) : String(pair)
        }.joined(separator: ",")
    }
}
