// liburing for batched tap I/O, plus the tun/tap ioctl definitions.
#ifndef CAPNET_CURING_SHIM_H
#define CAPNET_CURING_SHIM_H
// <sys/select.h> must come before <liburing.h>, or a clean build fails with
// an fd_set module conflict.
#include <sys/select.h>
#include <liburing.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#endif
