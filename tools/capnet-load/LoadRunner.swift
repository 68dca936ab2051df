import CLibSSL
#if canImport(Glibc)
import Glibc
#endif
import CapnetBase
import Foundation

/// Starts the worker threads, prints the progress line and collects the
/// workers' statistics.
enum LoadRunner {
    /// Seconds between progress lines.
    static let progressInterval = 1.0

    /// Runs the load described by `options` against `address` and returns the
    /// merged statistics. Blocks until every worker has stopped, which the
    /// duration and connection timeout bound.
    static func run(options: LoadOptions, address: TargetAddress, client: any LoadTLSClient,
                    showProgress: Bool) throws(LoadFailure) -> LoadStatistics {
        let clock = MonotonicTimeSource()
        var request: [UInt8]?
        if options.mode.sendsRequest { request = Array(requestText(for: options.target).utf8) }
        let plan = ConnectionPlan(client: client, address: address, request: request,
                                  timeout: options.connectionTimeout, clock: clock)

        var workers: [LoadWorker] = []
        for share in shares(options) {
            workers.append(try LoadWorker(plan: plan, share: share, duration: options.duration,
                                          resumes: options.mode.resumesSessions, clock: clock))
        }

        let finished = DispatchGroup()
        for worker in workers {
            finished.enter()
            let thread = Thread {
                worker.run()
                // Release OpenSSL's per-thread state now, while its globals
                // exist: left to the thread's exit, it can race the main
                // thread's exit(), whose OPENSSL_cleanup frees the locks that
                // cleanup takes (seen as a crash in pthread_rwlock_rdlock).
                OPENSSL_thread_stop()
                finished.leave()
            }
            thread.name = "capnet-load worker"
            thread.start()
        }

        let start = clock.now()
        var previousHandshakes = 0
        while finished.wait(timeout: .now() + progressInterval) == .timedOut {
            guard showProgress else { continue }
            let handshakes = workers.reduce(0) { $0 + $1.progress.handshakes.load(ordering: .relaxed) }
            let requests = workers.reduce(0) { $0 + $1.progress.requests.load(ordering: .relaxed) }
            let failures = workers.reduce(0) { $0 + $1.progress.failures.load(ordering: .relaxed) }
            let elapsed = Int((clock.now() - start).seconds.rounded())
            let line = "\r\u{1B}[K[\(elapsed) s] handshakes \(handshakes) (\(handshakes - previousHandshakes) in the last second), "
                + "requests \(requests), errors \(failures)"
            FileHandle.standardOutput.write(Data(line.utf8))
            previousHandshakes = handshakes
        }
        if showProgress { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }

        var total = LoadStatistics()
        for worker in workers { total.merge(worker.statistics) }
        return total
    }

    /// Splits concurrency, rate and count evenly over the threads. Threads
    /// whose share of the count is zero are left out.
    static func shares(_ options: LoadOptions) -> [LoadWorker.Share] {
        let threads = options.threads
        var shares: [LoadWorker.Share] = []
        for index in 0..<threads {
            let pacing: LoadOptions.Pacing
            switch options.pacing {
            case .concurrency(let limit):
                pacing = .concurrency(evenPart(of: limit, index: index, parts: threads))
            case .rate(let perSecond, let maxInFlight):
                pacing = .rate(perSecond: perSecond / Double(threads),
                               maxInFlight: max(1, evenPart(of: maxInFlight, index: index, parts: threads)))
            }
            let count = options.count.map { evenPart(of: $0, index: index, parts: threads) }
            if count == 0 { continue }
            shares.append(LoadWorker.Share(pacing: pacing, count: count))
        }
        return shares
    }

    /// Part `index` of `total` split into `parts` whole numbers that differ by at most one.
    static func evenPart(of total: Int, index: Int, parts: Int) -> Int {
        total / parts + (index < total % parts ? 1 : 0)
    }

    /// The HTTP/1.1 GET each connection sends (RFC 9112 section 3). It requests
    /// that the server close afterwards, because every connection is new.
    static func requestText(for target: TargetURL) -> String {
        "GET \(target.path) HTTP/1.1\r\n"
            + "Host: \(target.hostHeader)\r\n"
            + "User-Agent: capnet-load\r\n"
            + "Accept: */*\r\n"
            + "Connection: close\r\n"
            + "\r\n"
    }
}
