#if canImport(Glibc)
import Glibc
#endif
import NetStack

/// A resolved socket address of the target, ready for `connect(2)`.
struct TargetAddress: Sendable, CustomStringConvertible {
    enum Host: Equatable, Sendable {
        case ipv4(IPv4Address)
        /// The sixteen bytes of an IPv6 address in network order.
        case ipv6([UInt8])
    }

    let host: Host
    let port: UInt16

    var family: Int32 {
        switch host {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        }
    }

    /// The address in text form, as `inet_ntop(3)` writes it.
    var hostText: String {
        switch host {
        case .ipv4(let address):
            return address.description
        case .ipv6(let bytes):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
            return String(cString: buffer)
        }
    }

    var description: String {
        if case .ipv6 = host { return "[\(hostText)]:\(port)" }
        return "\(hostText):\(port)"
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch host {
        case .ipv4(let address):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr.s_addr = address.rawValue.bigEndian
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6(let bytes):
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Resolves `host` with `getaddrinfo(3)` and returns the first address.
    /// IP literals resolve without any name lookup.
    static func resolve(host: String, port: UInt16) throws(UsageError) -> TargetAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            let reason = String(cString: gai_strerror(status))
            throw UsageError("cannot resolve host '\(host)': \(reason)")
        }
        defer { freeaddrinfo(list) }

        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr {
                if current.pointee.ai_family == AF_INET {
                    let ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                    let value = IPv4Address(rawValue: UInt32(bigEndian: ipv4.sin_addr.s_addr))
                    return TargetAddress(host: .ipv4(value), port: port)
                }
                if current.pointee.ai_family == AF_INET6 {
                    let ipv6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                    let bytes = withUnsafeBytes(of: ipv6.sin6_addr) { [UInt8]($0) }
                    return TargetAddress(host: .ipv6(bytes), port: port)
                }
            }
            entry = current.pointee.ai_next
        }
        throw UsageError("cannot resolve host '\(host)': no IPv4 or IPv6 address found")
    }
}

/// The addresses capnet-load sends load to without `--allow-any-target`:
/// loopback and the documentation ranges, which test namespaces use.
enum TargetPolicy {
    static let allowedIPv4Networks: [IPv4Network] = [
        // Loopback (RFC 1122 section 3.2.1.3).
        IPv4Network(address: IPv4Address(127, 0, 0, 0), prefixLength: 8)!,
        // TEST-NET-1, TEST-NET-2 and TEST-NET-3 (RFC 5737).
        IPv4Network(address: IPv4Address(192, 0, 2, 0), prefixLength: 24)!,
        IPv4Network(address: IPv4Address(198, 51, 100, 0), prefixLength: 24)!,
        IPv4Network(address: IPv4Address(203, 0, 113, 0), prefixLength: 24)!,
    ]

    /// ::1 (RFC 4291 section 2.5.3).
    static let ipv6Loopback: [UInt8] = [UInt8](repeating: 0, count: 15) + [1]
    /// The first twelve bytes of an IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2).
    static let ipv4MappedPrefix: [UInt8] = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]

    static let allowedRangesText = "127.0.0.0/8, ::1, 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24"

    static func isAllowed(_ host: TargetAddress.Host) -> Bool {
        switch host {
        case .ipv4(let address):
            return allowedIPv4Networks.contains { $0.contains(address) }
        case .ipv6(let bytes):
            if bytes == ipv6Loopback { return true }
            if bytes.count == 16, Array(bytes[0..<12]) == ipv4MappedPrefix {
                let mapped = IPv4Address(bytes[12], bytes[13], bytes[14], bytes[15])
                return isAllowed(.ipv4(mapped))
            }
            return false
        }
    }

    /// Throws unless `address` is allowed or `allowAnyTarget` is set. The
    /// message names the address and the option that overrides the check.
    static func check(_ address: TargetAddress, hostName: String, allowAnyTarget: Bool) throws(UsageError) {
        guard !allowAnyTarget, !isAllowed(address.host) else { return }
        let resolved = address.hostText == hostName ? "" : " (resolved from '\(hostName)')"
        throw UsageError("""
            target address \(address.hostText)\(resolved) is not allowed: by default capnet-load \
            only connects to \(allowedRangesText). If you own that host and mean to load it, \
            add --allow-any-target.
            """)
    }
}
