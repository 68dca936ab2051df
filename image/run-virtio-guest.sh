#!/bin/sh
# Boots a QEMU guest with a modern virtio-net PCI device behind an emulated
# Intel IOMMU, binds the device to vfio-pci, and runs VirtioPCIGuestTests
# (the capnet virtio driver over VFIO) inside it. The device's peer is
# QEMU's user network, restricted (no host or outside access) and numbered
# 192.0.2.0/24.
#
# Needs: qemu-system-x86, busybox-static, a debug test build
# (`swift build --build-tests`), and the Debian cloud kernel package, which
# the script downloads with `apt-get download` into image/out/cache (shared
# with image/build). KVM does not work on the build machines, so QEMU runs
# with TCG. Exit status 0 when the guest tests pass. Everything else it
# creates lives in a temporary directory, and both that directory and QEMU
# are removed on exit, also on failure.
set -eu

. "$(dirname "$0")/lib.sh"

tests="$root/.build/debug/capnetPackageTests.xctest"
pci_address=0000:00:03.0
guest_mac=52:54:00:12:34:56
# Upper bound for the whole guest run; TCG boots in well under a minute.
guest_timeout=900

[ -x "$tests" ] || { echo "missing $tests; run 'swift build --build-tests' first" >&2; exit 2; }
work=$(mktemp -d)
qemu=
cleanup() {
    if [ -n "$qemu" ]; then kill "$qemu" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The kernel: CAPNET_KERNEL_DEB if set (a downloaded linux-image-*-cloud-amd64
# package), else the package image/build uses, downloaded once.
if [ -n "${CAPNET_KERNEL_DEB:-}" ]; then
    kernel_deb=$CAPNET_KERNEL_DEB
else
    kernel_package=$(resolve_kernel_package)
    kernel_deb=$(fetch_kernel_deb "$kernel_package" "$out/cache")
fi
dpkg-deb -x "$kernel_deb" "$work/kernel"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-*)
modules=$(ls -d "$work"/kernel/lib/modules/*/kernel)

# 2. The initramfs: busybox, the VFIO modules, the test binary and its libraries.
initramfs="$work/initramfs"
mkdir -p "$initramfs/bin" "$initramfs/proc" "$initramfs/sys" "$initramfs/dev" "$initramfs/tmp" "$initramfs/modules"
cp /bin/busybox "$initramfs/bin/busybox"
for applet in sh mount insmod poweroff echo cat; do ln -s busybox "$initramfs/bin/$applet"; done
for module in virt/lib/irqbypass drivers/vfio/vfio drivers/vfio/vfio_iommu_type1 drivers/vfio/vfio_virqfd \
              drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci; do
    cp "$modules/$module.ko" "$initramfs/modules/"
done
cp "$tests" "$initramfs/capnet-tests"
for library in $(ldd "$tests" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
    mkdir -p "$initramfs$(dirname "$library")"
    cp -L "$library" "$initramfs$library"
done

cat > "$initramfs/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Dependency order from the modules' depends= fields.
for module in irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci; do
    insmod /modules/\$module.ko
done
echo vfio-pci > /sys/bus/pci/devices/$pci_address/driver_override
echo $pci_address > /sys/bus/pci/drivers_probe
CAPNET_VIRTIO_PCI_ADDRESS=$pci_address CAPNET_VIRTIO_LINK_TEST=1 /capnet-tests --testing-library swift-testing --filter VirtioPCIGuestTests
echo "capnet guest result: \$?"
poweroff -f
INIT
chmod +x "$initramfs/init"
(cd "$initramfs" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initramfs.gz")

# 3. Boot. iommu_platform=on makes the device's DMA go through the IOMMU (VIRTIO_F_ACCESS_PLATFORM).
console="$work/console.log"
qmp="$work/qmp.sock"
# shellcheck disable=SC2086 # qemu_machine_flags is a list of flags.
timeout "$guest_timeout" qemu-system-x86_64 $qemu_machine_flags -m 2048 -smp 1 -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
    -append "$kernel_command_line quiet" \
    -qmp "unix:$qmp,server=on,wait=off" \
    -netdev user,id=net0,net=192.0.2.0/24,restrict=on \
    -device virtio-net-pci,id=nic0,netdev=net0,addr=0x3,disable-legacy=on,iommu_platform=on,mac=$guest_mac \
    > "$console" 2>&1 &
qemu=$!

# 4. Drive the guest's link test: send set_link through QMP when the guest announces it waits.
set_link() {
    python3 - "$qmp" "$1" <<'QMP'
import json, socket, sys
client = socket.socket(socket.AF_UNIX)
client.settimeout(10)
client.connect(sys.argv[1])
stream = client.makefile("rw")
stream.readline()  # greeting
for command in ({"execute": "qmp_capabilities"},
                {"execute": "set_link", "arguments": {"name": "nic0", "up": sys.argv[2] == "up"}}):
    stream.write(json.dumps(command) + "\n")
    stream.flush()
    reply = json.loads(stream.readline())
    if "error" in reply:
        sys.exit(f"QMP {command['execute']} failed: {reply['error']}")
QMP
}
down_sent=no
up_sent=no
while kill -0 "$qemu" 2>/dev/null; do
    if [ "$down_sent" = no ] && grep -q "capnet-guest: waiting for link down" "$console"; then
        set_link down
        down_sent=yes
    fi
    if [ "$up_sent" = no ] && grep -q "capnet-guest: waiting for link up" "$console"; then
        set_link up
        up_sent=yes
    fi
    sleep 1
done
wait "$qemu" || true
qemu=
cat "$console"
grep -q "capnet guest result: 0" "$console"
