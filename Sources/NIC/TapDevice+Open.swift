import CURing
#if canImport(Glibc)
import Glibc
#endif

/// A tun file descriptor attached to a tap, with the interface's MTU and the
/// kernel side's MAC address.
struct OpenedTap {
    var fd: Int32
    var link: LinkInfo
    var created: Bool
}

extension TapDevice {
    /// The character device through which taps are attached (Linux
    /// Documentation/networking/tuntap.rst).
    static let cloneDevicePath = "/dev/net/tun"

    /// Opens /dev/net/tun and attaches it to tap `name` in the calling
    /// thread's network namespace, creating the tap when `create` allows.
    static func openTap(name: String, create: Bool, place: String, nsPrefix: String) throws -> OpenedTap {
        // 1. Check that the tap exists, unless capnet may create it.
        let index = capnet_if_get_index(name)
        let exists = index > 0
        if !exists && !create {
            throw DeviceError(.notFound,
                              "tap device '\(name)' not found\(place): create it with `\(nsPrefix)ip tuntap add dev \(name) mode tap` and `\(nsPrefix)ip link set \(name) up`, or ask capnet to create it")
        }

        // 2. Open the clone device. It stays blocking because io_uring polls it
        //    for posted reads (no io-wq worker thread appears on Linux 6.18).
        let fd = Glibc.open(TapDevice.cloneDevicePath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            switch err {
            case ENOENT, ENODEV, ENXIO:
                throw DeviceError(.notFound,
                                  "cannot open /dev/net/tun for tap device '\(name)': \(errnoText(err)); load the tun module (`modprobe tun`) or create the node (`mkdir -p /dev/net && mknod /dev/net/tun c 10 200`)")
            case EACCES, EPERM:
                throw DeviceError(.permissionDenied,
                                  "cannot open /dev/net/tun for tap device '\(name)': \(errnoText(err)); run capnet as root")
            default:
                throw DeviceError(.ioFailure, "cannot open /dev/net/tun for tap device '\(name)': \(errnoText(err))")
            }
        }
        var ok = false
        defer { if !ok { Glibc.close(fd) } }

        // 3. Attach (TUNSETIFF), which creates a missing tap, and bring a new one up.
        let rc = capnet_tun_set_iff(fd, name, capnet_iff_tap_no_pi)
        if rc < 0 {
            throw TapDevice.attachError(name: name, place: place, nsPrefix: nsPrefix, err: -rc, creating: !exists)
        }
        if !exists {
            let up = capnet_if_set_up(name)
            if up < 0 {
                throw DeviceError(.ioFailure, "created tap device '\(name)'\(place) but cannot bring it up: \(errnoText(-up))")
            }
        }

        // 4. Read the MTU and the kernel side's MAC address.
        let link = try LinkInfo.read(interface: name, kind: "tap device", place: place)
        ok = true
        return OpenedTap(fd: fd, link: link, created: !exists)
    }

    /// Maps a TUNSETIFF errno to an error that names the tap and the fix.
    static func attachError(name: String, place: String, nsPrefix: String, err: Int32, creating: Bool) -> DeviceError {
        switch err {
        case EPERM, EACCES:
            let what = creating ? "create" : "attach to"
            return DeviceError(.permissionDenied,
                               "cannot \(what) tap device '\(name)'\(place): permission denied (\(errnoText(err))); this needs CAP_NET_ADMIN: run capnet as root, or hand the tap to this user with `\(nsPrefix)ip tuntap add dev \(name) mode tap user USER`")
        case EBUSY:
            return DeviceError(.busy,
                               "tap device '\(name)'\(place) is busy (\(errnoText(err))): another process has it open; stop that process (`grep -l 'iff:.\(name)$' /proc/*/fdinfo/*` finds it) or use another tap")
        case EINVAL:
            return DeviceError(.invalidArgument,
                               "'\(name)'\(place) exists but is not a tap device (a tun device or another kind of interface): pick a tap, or create one with `\(nsPrefix)ip tuntap add dev NAME mode tap`")
        default:
            return DeviceError(.ioFailure, "cannot attach to tap device '\(name)'\(place): TUNSETIFF failed: \(errnoText(err))")
        }
    }
}
