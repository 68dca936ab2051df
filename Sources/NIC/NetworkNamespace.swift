import CURing
#if canImport(Glibc)
import Glibc
#endif

/// Runs code inside a named network namespace (`ip netns add NAME`).
///
/// The network namespace is a property of a thread, and a thread that has
/// entered another namespace must not go back to serving other work. So
/// `run` starts a fresh pthread, moves only that thread into
/// `/var/run/netns/NAME` with `setns(CLONE_NEWNET)`, runs the closure there,
/// and lets the thread exit. The calling thread stays where it was.
///
/// Sockets, tun file descriptors and libpcap handles opened by the closure
/// belong to the namespace for their whole life. They may be used from any
/// thread afterwards, so a process in the root namespace can drive a tap
/// device that lives in a test namespace.
public enum NetworkNamespace {
    /// The directory in which `ip netns` keeps the namespace handles.
    public static let directory = "/var/run/netns"

    public static func path(for name: String) -> String { "\(directory)/\(name)" }

    /// Runs `body` on a new thread inside namespace `name` and returns its
    /// result (or rethrows its error). With `name == nil` it runs `body` on
    /// the calling thread.
    public static func run<T>(in name: String?, _ body: () throws -> T) throws -> T {
        guard let name else { return try body() }
        guard !name.isEmpty, !name.contains("/") else {
            throw DeviceError(.invalidArgument,
                              "network namespace name '\(name)' is invalid: give the name shown by `ip netns list`")
        }
        let path = path(for: name)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw DeviceError(.notFound,
                                  "network namespace '\(name)' not found (\(path) is missing): create it with `ip netns add \(name)`")
            }
            if err == EACCES || err == EPERM {
                throw DeviceError(.permissionDenied,
                                  "cannot open network namespace '\(name)' (\(path)): permission denied; run as root")
            }
            throw DeviceError(.ioFailure, "cannot open network namespace '\(name)' (\(path)): \(errnoText(err))")
        }
        defer { Glibc.close(fd) }

        var outcome: Result<T, Error>?
        try withoutActuallyEscaping(body) { escapable in
            let job = ThreadJob {
                let rc = capnet_setns_net(fd)
                if rc != 0 {
                    let err = -rc
                    let code: DeviceError.Code = (err == EPERM || err == EACCES) ? .permissionDenied : .ioFailure
                    let fix = code == .permissionDenied ? ": needs CAP_SYS_ADMIN; run as root" : ""
                    outcome = .failure(DeviceError(code, "cannot enter network namespace '\(name)': \(errnoText(err))\(fix)"))
                    return
                }
                outcome = Result { try escapable() }
            }
            try job.runOnNewThread()
        }
        guard let outcome else {
            throw DeviceError(.ioFailure, "network namespace '\(name)': the helper thread returned no result")
        }
        return try outcome.get()
    }
}

/// A closure run on a dedicated pthread that is joined before `runOnNewThread`
/// returns.
final class ThreadJob {
    let work: () -> Void

    init(_ work: @escaping () -> Void) { self.work = work }

    func runOnNewThread() throws {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue()
            job.work()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ThreadJob>.fromOpaque(context).release()
            throw DeviceError(.ioFailure, "cannot start a thread for the network namespace: \(errnoText(rc))")
        }
        pthread_join(thread, nil)
    }
}

/// `strerror` text with the errno name's number, for error messages.
func errnoText(_ err: Int32) -> String {
    "\(String(cString: strerror(err))) (errno \(err))"
}
