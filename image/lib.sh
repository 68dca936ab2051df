# Shared parts of the image scripts (build, run, test): paths, the Debian
# cloud kernel, and the QEMU machine flags that make VFIO work under TCG.
# Source it with `. "$(dirname "$0")/lib.sh"`. It defines functions and
# variables only and runs nothing.

image_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$image_dir/.." && pwd)
out="$image_dir/out"

# The kernel meta-package whose current dependency names the exact kernel.
kernel_meta_package=linux-image-cloud-amd64

# The guest's fixed network plan. QEMU's user network (slirp) is numbered
# inside the documentation range, and the host side has its own address.
guest_network=192.0.2.0/24
guest_host_address=192.0.2.2
guest_address=192.0.2.15

# Files under out/ that run and test share.
serial_log="$out/serial.log"
pid_file="$out/qemu.pid"
monitor_socket="$out/monitor.sock"

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# Prints the exact kernel package name: CAPNET_KERNEL_PACKAGE if set, else
# the linux-image-*-cloud-amd64 package the meta-package depends on.
resolve_kernel_package() {
    if [ -n "${CAPNET_KERNEL_PACKAGE:-}" ]; then
        echo "$CAPNET_KERNEL_PACKAGE"
        return
    fi
    package=$(apt-cache depends "$kernel_meta_package" 2>/dev/null \
        | awk '/Depends: linux-image-/ { print $2; exit }')
    [ -n "$package" ] || die "package $kernel_meta_package not found in the apt lists; run 'apt-get update', or set CAPNET_KERNEL_PACKAGE to an exact linux-image-*-cloud-amd64 name"
    echo "$package"
}

# Downloads the kernel package into DIRECTORY unless a .deb of it is there,
# and prints the .deb's path.
fetch_kernel_deb() {
    package=$1
    directory=$2
    mkdir -p "$directory"
    deb=$(ls "$directory/${package}_"*.deb 2>/dev/null | head -n 1)
    if [ -z "$deb" ]; then
        # apt-get warns that it downloads unsandboxed as root, so its output
        # is shown only when it fails.
        if ! (cd "$directory" && apt-get download "$package") > "$directory/apt-get.log" 2>&1; then
            cat "$directory/apt-get.log" >&2
            die "apt-get download $package failed (output above); check 'apt-cache policy $package' and run 'apt-get update'"
        fi
        deb=$(ls "$directory/${package}_"*.deb 2>/dev/null | head -n 1)
        [ -n "$deb" ] || die "apt-get download $package succeeded but left no ${package}_*.deb in $directory"
    fi
    echo "$deb"
}

# QEMU flags shared by every guest: TCG (KVM does not work on the build
# machines), q35 with an emulated Intel IOMMU so vfio-pci can bind, and
# interrupt remapping, which needs the split irqchip. The IOMMU device must
# come before the devices it translates for.
qemu_machine_flags="-accel tcg -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on"

# The kernel command line those flags need: the IOMMU on, the serial console,
# and no reboot loop after a panic.
kernel_command_line="console=ttyS0 intel_iommu=on panic=-1"
