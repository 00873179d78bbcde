#!/bin/busybox sh
# PID 1 of the comparator initramfs (bench/boot-vs-podman): what boot2container does for one
# container, in as few steps as it can be done with busybox and Debian's podman. Mount the kernel
# file systems, load the drivers, DHCP with udhcpc, then `podman run` the job of the command line
# (podman.image=REFERENCE; the command is `cat /proc/uptime`, the same job ocinit runs), printing the
# guest uptime at each step, then power off.
/bin/busybox mount -t proc proc /proc
marker() {
	echo "podman-initrd: $1 at $(cut -d' ' -f1 /proc/uptime)${2:+ $2}"
}
marker init
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup /var/lib/containers /run/containers
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Overlay on overlay is refused and rootfs may be ramfs: the store gets a tmpfs, as in boot2container.
mount -t tmpfs tmpfs /var/lib/containers
mount -t tmpfs tmpfs /var/tmp

# shellcheck disable=SC2046 # one module name a line
modprobe -a $(cat /etc/podman-initrd/modules)
ip link set lo up
tries=0
while [ ! -e /sys/class/net/eth0 ] && [ $tries -lt 100 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
if udhcpc -i eth0 -f -q -n -t 20 -T 1 -s /etc/podman-initrd/udhcpc.script; then
	marker network-ready
else
	marker network-failed
fi

image=
for word in $(cat /proc/cmdline); do
	case "$word" in
	podman.image=*) image=${word#podman.image=} ;;
	esac
done
if [ -z "$image" ]; then
	echo "podman-initrd: no podman.image= on the kernel command line"
	status=125
else
	podman run --rm --privileged --pull=always --network=host --runtime crun --tls-verify=false "$image" cat /proc/uptime
	status=$?
fi
marker pipeline-end "status $status"
poweroff -f
