#if canImport(Glibc)
import Glibc
#endif
import CLibSSL

/// A thin epoll(7) wrapper for one worker thread. Sockets are registered
/// edge-triggered for both directions once, so a connection never changes
/// its interest: it runs until OpenSSL reports that it must wait, and the
/// next readiness edge wakes it.
struct EventLoop: ~Copyable {
    /// Readiness events taken from the kernel per `epoll_wait` call.
    static let maximumEventsPerWait = 256

    private let descriptor: Int32
    private var events: [epoll_event]

    init() throws(LoadFailure) {
        descriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard descriptor >= 0 else {
            throw LoadFailure(.other, "epoll_create1 failed: \(String(cString: strerror(errno)))")
        }
        events = [epoll_event](repeating: epoll_event(), count: Self.maximumEventsPerWait)
    }

    deinit { close(descriptor) }

    /// Watches `socket` for reads, writes, errors and hang-ups; `token`
    /// comes back with each event.
    func register(socket: Int32, token: UInt64) throws(LoadFailure) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
        event.data.u64 = token
        guard epoll_ctl(descriptor, EPOLL_CTL_ADD, socket, &event) == 0 else {
            throw LoadFailure(.other, "epoll_ctl failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Waits up to `timeoutMilliseconds` and calls `body` with the token of
    /// each socket that became ready. Interrupted waits return no events.
    mutating func wait(timeoutMilliseconds: Int32, _ body: (UInt64) -> Void) {
        let count = events.withUnsafeMutableBufferPointer {
            epoll_wait(descriptor, $0.baseAddress, Int32($0.count), timeoutMilliseconds)
        }
        guard count > 0 else { return }
        for index in 0..<Int(count) {
            body(events[index].data.u64)
        }
    }
}
