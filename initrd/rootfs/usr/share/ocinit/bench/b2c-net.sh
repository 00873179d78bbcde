#!/bin/busybox sh
# bench/net's peer: boot2container's way to the network, as a busybox init (rdinit=<this file>).
# Like b2c: load the NIC drivers, then for about 10 s try DHCP on every eth*/en* interface in turn,
# one busybox udhcpc at a time (3 DISCOVERs 1 s apart each), until one gets a lease.
# Prints the same kind of line as ocinit's summary, then powers off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
now() { cut -d' ' -f1 /proc/uptime; }
echo "[$(now)]: b2c-net: started"
modprobe -a virtio_pci virtio_net e1000 e1000e 2>/dev/null

start=$(now)
ready=
deadline=$(($(cut -d. -f1 /proc/uptime) + 10))
while [ -z "$ready" ] && [ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ]; do
	for iface in $(ls /sys/class/net | grep -E '^(eth|en)'); do
		ip link set "$iface" up
		if udhcpc -i "$iface" -s /usr/share/ocinit/bench/b2c-udhcpc.script -n -q -t 3 -T 1 >/dev/null 2>&1; then
			ready=$iface
			break
		fi
	done
done
end=$(now)
if [ -n "$ready" ]; then
	echo "[$end]: b2c-net: network ready on $ready in $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
	echo "[$end]: Execution is over, pipeline status: 0"
else
	echo "[$end]: b2c-net: no lease"
	echo "[$end]: Execution is over, pipeline status: 1"
fi
poweroff -f
