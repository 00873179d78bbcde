#!/bin/busybox sh
# PID 1. The kernel panics if PID 1 exits, so this shell never does: it runs the Node launcher as a
# child, reaps orphans while it waits (busybox ash waits for any child), then carries out the
# hand-off the launcher wrote, or powers off with the reason when the launcher died without one.
# The pseudo-filesystems are mounted here, each a fork of busybox: from the launcher, one shell
# spawned by Node for all of them took ~0.3 s under TCG (Node's fork is what is slow).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export MALLOC_ARENA_MAX=1 NODE_OPTIONS=--max-semi-space-size=1 # the launcher's peak RSS: docs/performance.md, "S3 volumes"
HANDOFF=/run/ocinit/handoff

say() {
	echo "[$(cut -d' ' -f1 /proc/uptime)]: $*"
}

# Defaults for when the launcher dies before reading the command line.
action=poweroff
delay=0
command='poweroff -f'
reason=

# The runtime image (initrd/runtime-image.ts): Node, its libraries, crun, the kernel modules... are
# in a compressed read-only file system, their paths symlinks into it; only the pages read get
# decompressed. It needs a loop device, so /dev comes first.
RUNTIME_CONFIG=/etc/ocinit/runtime-image
mount_runtime() {
	. "$RUNTIME_CONFIG" || return 1
	mount_dev || return 1
	# shellcheck disable=SC2086 # a list of module names
	{ [ -z "$RUNTIME_MODULES" ] || modprobe -a $RUNTIME_MODULES; } &&
		mount -n -t "$RUNTIME_FSTYPE" -o loop,ro "$RUNTIME_IMAGE" "$RUNTIME_MOUNT"
}

# The drivers for the hardware present, loaded in the background while Node starts (seconds under
# TCG, faulting itself in from the runtime image): the launcher's own passes (src/boot/drivers.ts)
# wait for this one, take its aliases as tried and find its modules loaded. Not when
# the command line names b2c.insmods: those load first, so the launcher then does it all.
EARLY_DRIVERS=/run/ocinit/early-drivers
# With the options of src/boot/mounts.ts (test/unit/boot/mounts.test.ts compares the two), which
# then finds them mounted; it mounts whatever is missing here.
dev_mounted=
mount_dev() {
	[ -n "$dev_mounted" ] || mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev && dev_mounted=1
}
mount_pseudo_filesystems() {
	mount -t proc -o nosuid,nodev,noexec proc /proc &&
		mount_dev &&
		mount -t sysfs -o nosuid,nodev,noexec sysfs /sys &&
		mkdir -p /dev/pts /dev/shm /tmp &&
		mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts &&
		mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm &&
		mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp &&
		mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
}
early_drivers_allowed() {
	read -r cmdline </proc/cmdline || return
	case " $cmdline " in *' b2c.insmods='*) return 1 ;; esac
}
# Its files exist before the launcher starts: the launcher then knows to wait for `done`.
prepare_early_drivers() {
	mkdir -p "$EARLY_DRIVERS" && cut -d' ' -f1 /proc/modules >"$EARLY_DRIVERS/modules-before" && : >"$EARLY_DRIVERS/aliases"
}
load_drivers_early() {
	# Loading a bus driver (virtio_pci) makes its devices appear: a few passes, while they bring new ones.
	for pass in 1 2 3 4 5; do
		# The kernel's uevent count before the listing: unchanged later, no device has appeared since.
		read -r uevents 2>/dev/null </sys/kernel/uevent_seqnum || uevents=
		# (Not grep -vxF -f: busybox's matches every line when the file is empty.)
		fresh=$(cat /sys/bus/*/devices/*/modalias 2>/dev/null | awk -v tried="$EARLY_DRIVERS/aliases" 'BEGIN { while ((getline line <tried) > 0) seen[line] = 1 } !seen[$0]++')
		[ -n "$fresh" ] || break
		echo "$fresh" >>"$EARLY_DRIVERS/aliases"
		set -f # each alias one word, never a glob
		# shellcheck disable=SC2086
		modprobe -a -q $fresh
		set +f
	done
	echo "$uevents" >"$EARLY_DRIVERS/uevent-seqnum"
	echo "$pass" >"$EARLY_DRIVERS/done"
}

# Node faults its binary in from the runtime image block by block, each decompressed on the CPU
# that faults: with a CPU to spare, a reader decompresses the binary ahead of it (docs/performance.md,
# "2026-12-05, morning"), the startup snapshot first, since Node reads it whole early on ("2026-12-05,
# day"; without a snapshot, cat goes on to the binary). A switch_root waits for the reader before it
# unmounts the image (it has long ended by then; `wait` never touches a process that is not its
# child, where `kill` could hit a reused PID).
prefetch=
prefetch_node() {
	[ "$(nproc)" -gt 1 ] || return 0
	cat /init.snapshot "$(command -v node)" >/dev/null 2>&1 &
	prefetch=$!
}

# Under QEMU's TCG the vector instructions are emulated far slower than plain integer ones: OpenSSL's
# SSSE3/AVX/AVX2 SHA-256 takes ~1.6 times as long there as its scalar code, and hashing is the largest
# part of a pull under TCG (docs/performance.md, "2026-12-05, day"). Only on QEMU's TCG CPU model:
# real hardware and KVM guests keep OpenSSL's own choice (SHA-NI, AVX2).
scalar_hashing_under_tcg() {
	grep -q '^model name.*QEMU TCG CPU' "$1" 2>/dev/null || return 0
	export OPENSSL_ia32cap='~0x1000020000000000:~0x20' # CPUID.1:ECX SSSE3 and AVX, CPUID.7:EBX AVX2
}

failure=
if [ -f "$RUNTIME_CONFIG" ]; then
	if mount_runtime; then
		prefetch_node
	else
		failure="cannot mount the runtime image $RUNTIME_IMAGE ($RUNTIME_FSTYPE on a loop device), so the launcher cannot start: the kernel needs loop and $RUNTIME_FSTYPE (built in or as modules); for a kernel without them, build the initramfs with RUNTIME_IMAGE=none"
	fi
fi
# The scratch directory of a boot without a cache device (src/cache/index.ts, RAM_SCRATCH); the
# launcher mounts it if this did not.
mount_ram_scratch() {
	mkdir -p /run/ocinit/scratch && mount -t tmpfs -o mode=0755 tmpfs /run/ocinit/scratch
}
if [ -z "$failure" ] && mount_pseudo_filesystems && early_drivers_allowed && prepare_early_drivers; then
	load_drivers_early &
fi
[ -n "$failure" ] || mount_ram_scratch || :
[ -n "$failure" ] || scalar_hashing_under_tcg /proc/cpuinfo
if [ -n "$failure" ]; then
	status=1
# /init.snapshot is a V8 startup snapshot of /init.js (initrd/snapshot.ts): Node starts with the
# launcher's modules already compiled and evaluated. Should Node fail to load it (the launcher then
# never wrote its hand-off), the plain script runs instead.
elif [ -f /init.snapshot ]; then
	node --snapshot-blob /init.snapshot
	status=$?
	if [ ! -f "$HANDOFF" ]; then
		echo "ocinit: the launcher did not start from /init.snapshot (exit status $status); starting /init.js"
		node /init.js
		status=$?
	fi
else
	node /init.js
	status=$?
fi
[ -e /proc/uptime ] || mount -t proc proc /proc

if [ -f "$HANDOFF" ]; then
	while IFS='=' read -r key value; do
		case "$key" in
		action) action=$value ;;
		delay) delay=$value ;;
		command) command=$value ;;
		newroot) newroot=$value ;;
		init) init=$value ;;
		args) args=$value ;;
		env) env=$value ;;
		reason) reason=$value ;;
		esac
	done <"$HANDOFF"
fi

# The launcher writes `final=1` only once it has printed the final lines itself.
if ! grep -q '^final=1$' "$HANDOFF" 2>/dev/null; then
	if [ "$status" -gt 128 ]; then
		why="was killed by signal $((status - 128))"
		[ "$status" -eq 137 ] && why="$why (SIGKILL: out of memory, or killed)"
	else
		why="exited with code $status"
	fi
	printf '\033[31m'
	if [ -n "$failure" ]; then
		say "ocinit: $failure"
	else
		say "ocinit: the launcher $why before finishing${reason:+ ($reason)}"
	fi
	say "ocinit: nothing more will run; ending the session with: $action"
	printf '\033[0m'
	case "$action" in switch_root) action=poweroff; command='poweroff -f' ;; esac
fi

sync
case "$action" in
switch_root)
	# The new OS gets the machine's /dev, /proc and /sys; args and env are words quoted by the
	# launcher (handoff.ts shellQuote), safe to eval. env -i: the init sees only the image's environment.
	say "ocinit: switching root to $newroot, init $init"
	[ -z "$prefetch" ] || wait "$prefetch" 2>/dev/null
	[ -n "$RUNTIME_MOUNT" ] && umount "$RUNTIME_MOUNT"
	for fs in dev proc sys; do
		mkdir -p "$newroot/$fs"
		mount --move "/$fs" "$newroot/$fs" || echo "ocinit: cannot move /$fs into the new root"
	done
	eval "set -- $args"
	eval "exec env -i $env switch_root \"\$newroot\" \"\$init\" \"\$@\""
	;;
reboot | poweroff)
	# boot2container's last lines; b2c.poweroff_delay may be fractional (0.5): busybox sleep takes it.
	if [ "$action" = poweroff ]; then
		say "It's now safe to turn off your computer"
		if [ "$delay" != 0 ]; then
			echo "sleep $delay"
			sleep "$delay"
		fi
	else
		say 'Rebooting the computer'
	fi
	sh -c "$command"
	;;
esac

# The configured command did not end the machine: force it, and never return.
say "ocinit: '$command' did not end the machine; forcing $action"
if [ "$action" = reboot ]; then reboot -f; else poweroff -f; fi
sleep 5
if [ "$action" = reboot ]; then echo b >/proc/sysrq-trigger; else echo o >/proc/sysrq-trigger; fi
while :; do sleep 3600; done
