// qemu/run [options] [-- KERNEL ARGS...]: boots the initramfs with the console on stdout and exits
// like `podman run` would: with the pipeline status (see harness.ts for the other codes).
import { parseArgs } from 'node:util';
import { ARCHES, parseArch, type Arch } from '../initrd/target.ts';
import { boot, DISK_MODELS, EXIT_NO_STATUS, EXIT_NOT_STARTED, EXIT_TIMEOUT, EXIT_USAGE, NIC_MODELS, type Accel, type DiskModel, type NetworkMode, type NicModel } from './harness.ts';

const USAGE = `usage: qemu/run [options] [-- KERNEL ARGS...]
  --arch ARCH        x86_64 (default: qemu-system-x86_64) or arm64 (qemu-system-aarch64 -M virt, the
                     images make initrd ARCH=arm64 builds in build/arm64/)
  --kernel FILE      kernel image (default build/vmlinuz, build/arm64/vmlinuz with --arch arm64)
  --initrd FILE      initramfs (default build/initrd.cpio.zst, build/arm64/initrd.cpio.zst with --arch arm64)
  --mem MIB          memory (default 1024)
  --smp N            CPUs (default 2)
  --disk FILE        extra disk, raw or .qcow2 (repeatable)
  --disk-model MODEL the disks' controller: virtio (default), nvme, ahci (SATA), usb (usb-storage on
                     xHCI) or virtio-scsi
  --net MODE         user (default: QEMU user network, host loopback is 10.0.2.2), none, or tap=IFNAME
  --mac ADDRESS      MAC address of the NIC
  --nic-model MODEL  virtio (default), e1000, e1000e, rtl8139, vmxnet3 or usb (usb-net on xHCI)
  --timeout SECONDS  kill QEMU after this long (exit ${EXIT_TIMEOUT})
  --accel MODE       auto (default: KVM if a probe boot works, else TCG), kvm or tcg
Each word after -- is one word of the kernel command line, appended verbatim.
Exit code: the pipeline status printed by ocinit; 0 when the command line names no container
(no pipeline, as in boot2container); ${EXIT_NOT_STARTED} when ocinit said the pipeline never started
(command line, network, cache device, extra arguments, NBD); ${EXIT_NO_STATUS} if neither appeared
(crash, panic); ${EXIT_TIMEOUT} on timeout; ${EXIT_USAGE} for a usage error.`;

function usageError(message: string): never {
  process.stderr.write(`qemu/run: ${message}\n${USAGE}\n`);
  process.exit(EXIT_USAGE);
}

function positiveInteger(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number.parseInt(value, 10) <= 0) usageError(`${option} wants a positive whole number, not '${value}'`);
  return Number.parseInt(value, 10);
}

function parseNet(value: string | undefined): NetworkMode {
  if (value === undefined || value === 'user') return { kind: 'user' };
  if (value === 'none') return { kind: 'none' };
  if (value.startsWith('tap=') && value.length > 4) return { kind: 'tap', ifname: value.slice(4) };
  return usageError(`--net wants user, none or tap=IFNAME, not '${value}'`);
}

function oneOf<T extends string>(value: string | undefined, choices: readonly T[], option: string): T | undefined {
  if (value === undefined) return undefined;
  const choice = choices.find((candidate) => candidate === value);
  return choice ?? usageError(`${option} wants ${choices.join(', ')}, not '${value}'`);
}

function parseTargetArch(value: string | undefined): Arch {
  if (value === undefined) return 'x86_64';
  return parseArch(value) ?? usageError(`--arch wants ${ARCHES.join(' or ')}, not '${value}'`);
}

function parseAccel(value: string | undefined): Accel {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'kvm' || value === 'tcg') return value;
  return usageError(`--accel wants auto, kvm or tcg, not '${value}'`);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      arch: { type: 'string' },
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      mem: { type: 'string' },
      smp: { type: 'string' },
      disk: { type: 'string', multiple: true },
      net: { type: 'string' },
      mac: { type: 'string' },
      'nic-model': { type: 'string' },
      'disk-model': { type: 'string' },
      timeout: { type: 'string' },
      accel: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  usageError(error instanceof Error ? error.message : String(error));
}
const { values, positionals } = parsed;
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

try {
  const result = await boot({
    arch: parseTargetArch(values.arch),
    kernel: values.kernel,
    initrd: values.initrd,
    append: positionals,
    memMiB: positiveInteger(values.mem, '--mem'),
    smp: positiveInteger(values.smp, '--smp'),
    disks: values.disk ?? [],
    net: parseNet(values.net),
    mac: values.mac,
    nicModel: oneOf<NicModel>(values['nic-model'], NIC_MODELS, '--nic-model'),
    diskModel: oneOf<DiskModel>(values['disk-model'], DISK_MODELS, '--disk-model'),
    timeoutSeconds: positiveInteger(values.timeout, '--timeout'),
    accel: parseAccel(values.accel),
    onOutput: (chunk) => process.stdout.write(chunk),
  });
  if (result.timedOut) process.stderr.write(`qemu/run: timed out after ${values.timeout} s\n`);
  else if (result.notStarted !== undefined) process.stderr.write(`qemu/run: the pipeline never started: ${result.notStarted.stage}: ${result.notStarted.reason}\n`);
  else if (result.status === undefined && !result.noPipeline) process.stderr.write(`qemu/run: the console showed no pipeline status line${result.kernelPanic ? ' (kernel panic)' : ''}\n`);
  process.exitCode = result.exitCode;
} catch (error) {
  process.stderr.write(`qemu/run: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = EXIT_NO_STATUS;
}
