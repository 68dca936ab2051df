// liburing for batched tap I/O, plus the tun/tap ioctl definitions.
#ifndef CAPNET_CURING_SHIM_H
#define CAPNET_CURING_SHIM_H
// <sys/select.h> must come before <liburing.h>, or a clean build fails with
// an fd_set module conflict.
#include <sys/select.h>
#include <liburing.h>
// <net/if.h>, not <linux/if.h>: Glibc's module already has struct ifreq.
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

// Function-like ioctl macros are not imported into Swift; these helpers wrap
// them. Each returns 0 (or a value) on success and -errno on failure. The
// socket-based helpers act on the network namespace of the calling thread.

/// Attaches `fd` (an open /dev/net/tun) to the interface `name` with `flags`
/// (IFF_TAP | IFF_NO_PI), creating it when it does not exist.
static inline int capnet_tun_set_iff(int fd, const char *name, short flags) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    ifr.ifr_flags = flags;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) return -errno;
    return 0;
}

static inline int capnet_if_request(const char *name, unsigned long request, struct ifreq *ifr) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    memset(ifr, 0, sizeof *ifr);
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(s, request, ifr);
    int err = errno;
    close(s);
    return rc < 0 ? -err : 0;
}

/// The interface's MTU (SIOCGIFMTU), or -errno.
static inline int capnet_if_get_mtu(const char *name) {
    struct ifreq ifr;
    int rc = capnet_if_request(name, SIOCGIFMTU, &ifr);
    return rc < 0 ? rc : ifr.ifr_mtu;
}

/// Copies the interface's hardware address (SIOCGIFHWADDR) into `out`.
static inline int capnet_if_get_hwaddr(const char *name, unsigned char out[6]) {
    struct ifreq ifr;
    int rc = capnet_if_request(name, SIOCGIFHWADDR, &ifr);
    if (rc < 0) return rc;
    memcpy(out, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

/// The interface's index (SIOCGIFINDEX), or -errno (-ENODEV when missing).
static inline int capnet_if_get_index(const char *name) {
    struct ifreq ifr;
    int rc = capnet_if_request(name, SIOCGIFINDEX, &ifr);
    return rc < 0 ? rc : ifr.ifr_ifindex;
}

/// Sets IFF_UP on the interface (SIOCGIFFLAGS, SIOCSIFFLAGS).
static inline int capnet_if_set_up(const char *name) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    close(s);
    return rc < 0 ? -err : 0;
}

/// Removes CAP_NET_ADMIN from the calling thread's effective set (the
/// permitted set keeps it). Tests use this on a dedicated thread to check the
/// error a device gives without the capability.
static inline int capnet_drop_net_admin_this_thread(void) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) < 0) return -errno;
    data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
    if (syscall(SYS_capset, &header, data) < 0) return -errno;
    return 0;
}

/// Moves the calling thread into the network namespace behind `fd`
/// (setns(fd, CLONE_NEWNET)); 0 or -errno.
static inline int capnet_setns_net(int fd) {
    if (syscall(SYS_setns, fd, 0x40000000 /* CLONE_NEWNET */) < 0) return -errno;
    return 0;
}

static const int capnet_ifnamsiz = IFNAMSIZ;
static const short capnet_iff_tap_no_pi = IFF_TAP | IFF_NO_PI;
static const unsigned long long capnet_udata_timeout = LIBURING_UDATA_TIMEOUT;
#endif
