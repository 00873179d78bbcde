// Boots a kernel + initramfs in QEMU with the serial console captured, and reads the outcome from
// the console the way a farm does. Used by qemu/run and by the boot tests.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildDir, buildHostArch, type Arch } from '../initrd/target.ts';

export const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** qemu/run's exit codes besides the pipeline status itself (documented in docs/testing.md). */
export const EXIT_NO_STATUS = 250;
export const EXIT_TIMEOUT = 251;
/** The launcher said the pipeline never started (command line, network, cache device, extra arguments, NBD). */
export const EXIT_NOT_STARTED = 252;
export const EXIT_USAGE = 64;

export type NetworkMode = { kind: 'user' } | { kind: 'none' } | { kind: 'tap'; ifname: string };
export type Accel = 'auto' | 'kvm' | 'tcg';

/** Emulated NIC models: QEMU's paravirtual one and the real hardware farms' machines have. */
export const NIC_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'usb'] as const;
export type NicModel = (typeof NIC_MODELS)[number];
/** Emulated disk controllers for --disk: virtio-blk, NVMe, AHCI (SATA), USB mass storage, virtio-scsi. */
export const DISK_MODELS = ['virtio', 'nvme', 'ahci', 'usb', 'virtio-scsi'] as const;
export type DiskModel = (typeof DISK_MODELS)[number];

/** How QEMU emulates a machine of each architecture the initramfs is built for. */
interface QemuMachine {
  binary: string;
  /** Debian package that ships `binary`. */
  debianPackage: string;
  machine: readonly string[];
  /** CPU model under TCG: a57 for arm64 (`max` emulates pointer authentication, far slower under TCG). */
  tcgCpu: string;
  /** The serial console's device name in the guest. */
  console: string;
}

const MACHINES: Record<Arch, QemuMachine> = {
  x86_64: { binary: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', machine: [], tcgCpu: 'max', console: 'ttyS0' },
  arm64: { binary: 'qemu-system-aarch64', debianPackage: 'qemu-system-arm', machine: ['-M', 'virt'], tcgCpu: 'cortex-a57', console: 'ttyAMA0' },
};

export interface BootOptions {
  /** The guest's architecture (default x86_64): picks the QEMU binary, machine, console and default images. */
  arch?: Arch;
  kernel?: string;
  initrd?: string;
  /** Kernel command line words appended after the harness's own (console, panic). */
  append?: readonly string[];
  memMiB?: number;
  smp?: number;
  disks?: readonly string[];
  net?: NetworkMode;
  /** MAC address of the (first) NIC, for labs that hand out leases by MAC. */
  mac?: string;
  /** The (first) NIC's model (default virtio). */
  nicModel?: NicModel;
  /** The controller every disk of `disks` sits on (default virtio). */
  diskModel?: DiskModel;
  timeoutSeconds?: number;
  accel?: Accel;
  /** Called with console output as it arrives. */
  onOutput?: (chunk: string) => void;
  /** Boot from the NIC's iPXE ROM instead of -kernel/-initrd (the lab serves what it boots). */
  pxe?: boolean;
  /** Raw QEMU arguments appended last (second NIC, RTC base, ...). */
  extraArgs?: readonly string[];
}

export interface BootResult {
  /** What qemu/run exits with: the pipeline status, 0 with no pipeline, EXIT_NOT_STARTED, EXIT_NO_STATUS or EXIT_TIMEOUT. */
  exitCode: number;
  /** The pipeline status printed by the launcher, if it printed one. */
  status: number | undefined;
  /** The stage and reason of `ocinit: pipeline not started: STAGE: REASON`, if the launcher printed it. */
  notStarted: { stage: string; reason: string } | undefined;
  /** The launcher said the command line names no container (`ocinit: no pipeline: ...`). */
  noPipeline: boolean;
  console: string;
  timedOut: boolean;
  kernelPanic: boolean;
  accel: 'kvm' | 'tcg';
  seconds: number;
}

const STATUS_LINE = /Execution is over, pipeline status: (\d+)/;
const NOT_STARTED_LINE = /ocinit: pipeline not started: (\S+): ([^\r\n\x1b]*)/;
const NO_PIPELINE_LINE = /ocinit: no pipeline: /;

export function defaultKernel(arch: Arch = 'x86_64'): string {
  return join(REPO_ROOT, buildDir(arch), 'vmlinuz');
}

export function defaultInitrd(arch: Arch = 'x86_64'): string {
  return join(REPO_ROOT, buildDir(arch), 'initrd.cpio.zst');
}

export function qemuBinary(arch: Arch = 'x86_64'): string {
  return MACHINES[arch].binary;
}

/** The stage and reason of the launcher's not-started line, if the transcript has one. */
export function notStartedLine(consoleText: string): { stage: string; reason: string } | undefined {
  const match = NOT_STARTED_LINE.exec(consoleText);
  return match === null ? undefined : { stage: match[1] ?? '', reason: match[2] ?? '' };
}

/** qemu/run's exit code for a transcript (docs/testing.md). */
export function exitCodeOf(consoleText: string, timedOut: boolean): number {
  if (timedOut) return EXIT_TIMEOUT;
  const status = pipelineStatus(consoleText);
  if (status !== undefined) return status & 0xff;
  if (notStartedLine(consoleText) !== undefined) return EXIT_NOT_STARTED;
  return NO_PIPELINE_LINE.test(consoleText) ? 0 : EXIT_NO_STATUS;
}

/** Parses the last status line of a console transcript. */
export function pipelineStatus(consoleText: string): number | undefined {
  const matches = [...consoleText.matchAll(new RegExp(STATUS_LINE, 'g'))];
  const last = matches.at(-1)?.[1];
  return last === undefined ? undefined : Number.parseInt(last, 10);
}

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether KVM actually boots a kernel here. /dev/kvm can exist while nested KVM hangs right after
 * the firmware, so boot the kernel with no initramfs and see whether it prints anything at all.
 * The answer is cached per kernel and QEMU version in build/.accel-probe.
 */
export function probeKvm(kernel: string, arch: Arch = 'x86_64'): boolean {
  if (arch !== buildHostArch() || !kvmUsable()) return false;
  const machine = MACHINES[arch];
  const qemuVersion = spawnSync(machine.binary, ['--version']).stdout?.toString().split('\n')[0] ?? '';
  const key = `${resolve(kernel)} ${qemuVersion}`;
  const cacheFile = join(REPO_ROOT, 'build/.accel-probe');
  if (existsSync(cacheFile)) {
    const [cachedKey, answer] = readFileSync(cacheFile, 'utf8').split('\n');
    if (cachedKey === key) return answer === 'kvm';
  }
  const result = spawnSync(
    machine.binary,
    [...machine.machine, '-accel', 'kvm', '-cpu', 'host', '-m', '256', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nic', 'none', '-kernel', kernel, '-append', `console=${machine.console} panic=-1 rdinit=/nonexistent`],
    { timeout: 8000, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const works = (result.stdout?.toString() ?? '').includes('Linux version');
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, `${key}\n${works ? 'kvm' : 'tcg'}\n`);
  return works;
}

/** USB devices hang off one xHCI controller, added once whether the NIC, a disk or both are USB. */
const XHCI = ['-device', 'qemu-xhci,id=xhci'];

function nicArguments(options: BootOptions): string[] {
  const net = options.net ?? { kind: 'user' };
  if (net.kind === 'none') return ['-nic', 'none'];
  const netdev = net.kind === 'user' ? 'user,id=net0' : `tap,id=net0,ifname=${net.ifname},script=no,downscript=no`;
  const mac = options.mac === undefined ? '' : `,mac=${options.mac}`;
  const model = options.nicModel ?? 'virtio';
  const device = model === 'virtio' ? 'virtio-net-pci' : model === 'usb' ? 'usb-net,bus=xhci.0' : model;
  return ['-netdev', netdev, '-device', `${device},netdev=net0${mac}`];
}

function diskArguments(disks: readonly string[], model: DiskModel): string[] {
  if (disks.length === 0) return [];
  const args = model === 'ahci' ? ['-device', 'ahci,id=ahci'] : model === 'virtio-scsi' ? ['-device', 'virtio-scsi-pci,id=scsi'] : [];
  for (const [index, disk] of disks.entries()) {
    const format = disk.endsWith('.qcow2') ? 'qcow2' : 'raw';
    if (model === 'virtio') {
      args.push('-drive', `file=${disk},format=${format},if=virtio,index=${index}`);
      continue;
    }
    const drive = `disk${index}`;
    args.push('-drive', `file=${disk},format=${format},if=none,id=${drive}`);
    const device = {
      nvme: `nvme,drive=${drive},serial=ocinit${index}`,
      ahci: `ide-hd,drive=${drive},bus=ahci.${index}`,
      usb: `usb-storage,drive=${drive},bus=xhci.0`,
      'virtio-scsi': `scsi-hd,drive=${drive},bus=scsi.0`,
    }[model];
    args.push('-device', device);
  }
  return args;
}

/** The NIC and disks on their chosen controllers, with the xHCI controller when a USB device needs it. */
function deviceArguments(options: BootOptions): string[] {
  const disks = options.disks ?? [];
  const diskModel = options.diskModel ?? 'virtio';
  const usb = (options.nicModel === 'usb' && options.net?.kind !== 'none') || (diskModel === 'usb' && disks.length > 0);
  if (diskModel === 'ahci' && disks.length > 6) throw new Error('an AHCI controller has 6 ports: at most 6 disks with the ahci disk model');
  return [...(usb ? XHCI : []), ...nicArguments(options), ...diskArguments(disks, diskModel)];
}

export function qemuArguments(options: BootOptions, accel: 'kvm' | 'tcg'): string[] {
  const arch = options.arch ?? 'x86_64';
  const machine = MACHINES[arch];
  const kernel = options.kernel ?? defaultKernel(arch);
  const initrd = options.initrd ?? defaultInitrd(arch);
  if (options.pxe === true && arch !== 'x86_64') throw new Error('PXE boots use the x86_64 iPXE ROM: no --pxe with another architecture');
  // quiet keeps the kernel's own messages off the console (a panic still prints); a later loglevel= wins.
  const append = [`console=${machine.console}`, 'panic=-1', 'quiet', ...(options.append ?? [])].join(' ');
  const args = [
    ...machine.machine,
    '-accel', accel,
    '-cpu', accel === 'kvm' ? 'host' : machine.tcgCpu,
    '-m', String(options.memMiB ?? 1024),
    '-smp', String(options.smp ?? 2),
    '-display', 'none',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-no-reboot',
    ...(options.pxe === true ? ['-boot', 'n'] : ['-kernel', kernel, '-initrd', initrd, '-append', append]),
  ];
  args.push(...deviceArguments(options));
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** Boots and waits for QEMU to exit (power-off, reboot, panic) or for the timeout. */
export function boot(options: BootOptions = {}): Promise<BootResult> {
  const arch = options.arch ?? 'x86_64';
  const kernel = options.kernel ?? defaultKernel(arch);
  const initrd = options.initrd ?? defaultInitrd(arch);
  for (const file of options.pxe === true ? [] : [kernel, initrd]) {
    const make = arch === 'x86_64' ? 'make initrd' : `make initrd ARCH=${arch}`;
    if (!existsSync(file)) return Promise.reject(new Error(`${file} does not exist: run ${make} (or pass --kernel/--initrd)`));
  }
  const wanted = options.accel ?? 'auto';
  if (wanted === 'kvm' && arch !== buildHostArch()) return Promise.reject(new Error(`KVM runs only this host's architecture, not ${arch}: use --accel tcg`));
  const accel: 'kvm' | 'tcg' = wanted === 'auto' ? (probeKvm(kernel, arch) ? 'kvm' : 'tcg') : wanted;
  const started = performance.now();
  let args: string[];
  try {
    args = qemuArguments(options, accel);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  return new Promise((resolveBoot, reject) => {
    const child = spawn(qemuBinary(arch), args, { stdio: ['inherit', 'pipe', 'inherit'] });
    let consoleText = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      consoleText += chunk;
      options.onOutput?.(chunk);
    });
    const timer =
      options.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutSeconds * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${qemuBinary(arch)}: ${error.message} (apt-get install ${MACHINES[arch].debianPackage})`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolveBoot({
        exitCode: exitCodeOf(consoleText, timedOut),
        status: pipelineStatus(consoleText),
        notStarted: notStartedLine(consoleText),
        noPipeline: NO_PIPELINE_LINE.test(consoleText),
        console: consoleText,
        timedOut,
        kernelPanic: consoleText.includes('Kernel panic'),
        accel,
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}
