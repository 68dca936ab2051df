import CapnetBase
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
        // TODO: open the tap, wrap it, build the interface and services.
        log.error("serve is not wired yet")
        return 1
    }
}
