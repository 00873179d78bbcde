// Boots a kernel + initramfs in QEMU with the serial console captured, and reads the outcome from
// the console the way a farm does. Used by qemu/run and by the boot tests.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** qemu/run's exit codes besides the pipeline status itself (documented in docs/testing.md). */
export const EXIT_NO_STATUS = 250;
export const EXIT_TIMEOUT = 251;
export const EXIT_USAGE = 64;

export type NetworkMode = { kind: 'user' } | { kind: 'none' } | { kind: 'tap'; ifname: string };
export type Accel = 'auto' | 'kvm' | 'tcg';

/** Emulated NIC models: QEMU's paravirtual one and the real hardware farms' machines have. */
export const NIC_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3', 'usb'] as const;
export type NicModel = (typeof NIC_MODELS)[number];
/** Emulated disk controllers for --disk: virtio-blk, NVMe, AHCI (SATA), USB mass storage, virtio-scsi. */
export const DISK_MODELS = ['virtio', 'nvme', 'ahci', 'usb', 'virtio-scsi'] as const;
export type DiskModel = (typeof DISK_MODELS)[number];

export interface BootOptions {
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
  /** What qemu/run exits with: the pipeline status, EXIT_NO_STATUS or EXIT_TIMEOUT. */
  exitCode: number;
  /** The pipeline status printed by the launcher, if it printed one. */
  status: number | undefined;
  console: string;
  timedOut: boolean;
  kernelPanic: boolean;
  accel: 'kvm' | 'tcg';
  seconds: number;
}

const STATUS_LINE = /Execution is over, pipeline status: (\d+)/;

export function defaultKernel(): string {
  return join(REPO_ROOT, 'build/vmlinuz');
}

export function defaultInitrd(): string {
  return join(REPO_ROOT, 'build/initrd.cpio.zst');
}

function qemuBinary(): string {
  return 'qemu-system-x86_64';
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
export function probeKvm(kernel: string): boolean {
  if (!kvmUsable()) return false;
  const qemuVersion = spawnSync(qemuBinary(), ['--version']).stdout?.toString().split('\n')[0] ?? '';
  const key = `${resolve(kernel)} ${qemuVersion}`;
  const cacheFile = join(REPO_ROOT, 'build/.accel-probe');
  if (existsSync(cacheFile)) {
    const [cachedKey, answer] = readFileSync(cacheFile, 'utf8').split('\n');
    if (cachedKey === key) return answer === 'kvm';
  }
  const result = spawnSync(
    qemuBinary(),
    ['-accel', 'kvm', '-cpu', 'host', '-m', '256', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nic', 'none', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1 rdinit=/nonexistent'],
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
  const kernel = options.kernel ?? defaultKernel();
  const initrd = options.initrd ?? defaultInitrd();
  // quiet keeps the kernel's own messages off the console (a panic still prints); a later loglevel= wins.
  const append = ['console=ttyS0', 'panic=-1', 'quiet', ...(options.append ?? [])].join(' ');
  const args = [
    '-accel', accel,
    '-cpu', accel === 'kvm' ? 'host' : 'max',
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
  const kernel = options.kernel ?? defaultKernel();
  const initrd = options.initrd ?? defaultInitrd();
  for (const file of options.pxe === true ? [] : [kernel, initrd]) {
    if (!existsSync(file)) return Promise.reject(new Error(`${file} does not exist: run make initrd (or pass --kernel/--initrd)`));
  }
  const wanted = options.accel ?? 'auto';
  const accel: 'kvm' | 'tcg' = wanted === 'auto' ? (probeKvm(kernel) ? 'kvm' : 'tcg') : wanted;
  const started = performance.now();
  return new Promise((resolveBoot, reject) => {
    const child = spawn(qemuBinary(), qemuArguments(options, accel), { stdio: ['inherit', 'pipe', 'inherit'] });
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
      reject(new Error(`cannot start ${qemuBinary()}: ${error.message} (apt-get install qemu-system-x86)`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      const status = pipelineStatus(consoleText);
      const exitCode = timedOut ? EXIT_TIMEOUT : status === undefined ? EXIT_NO_STATUS : status & 0xff;
      resolveBoot({
        exitCode,
        status,
        console: consoleText,
        timedOut,
        kernelPanic: consoleText.includes('Kernel panic'),
        accel,
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}
