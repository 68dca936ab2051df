import Acme
import CapnetBase
import NetStack

/// Resolves the host names of outgoing HTTPS connections (the ACME CA's)
/// through the stack's own DNS resolver and the `--dns-server`.
final class DNSHostResolver: StackHostResolver {
    let service: DNSResolverService

    init(interface: Interface, server: IPv4Endpoint) throws {
        do {
            service = try DNSResolverService.start(on: interface, configuration: DNSResolver.Configuration(server: server))
        } catch {
            throw UsageError("cannot use --dns-server \(server): \(error)")
        }
    }

    func resolve(host: String, now: Instant, completion: @escaping (Result<[IPv4Address], any Error>) -> Void) {
        // The service calls back on the loop thread, where this runs too.
        nonisolated(unsafe) let deliver = completion
        do {
            try service.resolve(host) { result in deliver(result.mapError { $0 }) }
        } catch {
            completion(.failure(error))
        }
    }
}
