import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set by the SIGINT and SIGTERM handlers; the run loop checks it every turn.
let shutdownRequested = Atomic<Bool>(false)
/// The signal that requested shutdown, for the log line.
let shutdownSignalNumber = Atomic<Int32>(0)

enum ShutdownSignal {
    /// Installs handlers that only set `shutdownRequested` (an async-signal-safe
    /// store), so the loop finishes its turn, flushes and exits cleanly.
    static func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                shutdownSignalNumber.store(number, ordering: .relaxed)
                shutdownRequested.store(true, ordering: .releasing)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signalNumber, &action, nil)
        }
        // A parent may have started us with these signals blocked (a blocked
        // mask survives exec), which would make SIGTERM wait forever.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        sigaddset(&unblocked, SIGINT)
        sigaddset(&unblocked, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)

        // A closed peer socket must not kill the process.
        signal(SIGPIPE, SIG_IGN)
    }

    static var isRequested: Bool { shutdownRequested.load(ordering: .acquiring) }
}
