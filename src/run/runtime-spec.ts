// config.json for one container: the image config merged with the container's podman flags, with
// boot2container's defaults (privileged, host network, the machine's devices visible).
import type { ContainerSpec } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { ImageConfig } from '../oci/index.ts';
import type { ProcessUser } from './user.ts';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>;
    rlimits: { type: string; soft: number; hard: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    devices: { path: string; type: string; major: number; minor: number; fileMode: number; uid: number; gid: number }[];
    resources: {
      devices: { allow: boolean; access: string; type?: string; major?: number; minor?: number }[];
      memory?: { limit: number };
      cpu?: { quota: number; period: number };
    };
    cgroupsPath: string;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Everything about one container that is known once its image is unpacked and its volumes exist. */
export interface RuntimeSpecInput {
  id: string;
  container: ContainerSpec;
  image: ImageConfig;
  rootfs: string;
  user: ProcessUser;
  env: string[];
  hostname: string;
  /** Volumes, binds, tmpfs and /etc files, already resolved to host sources. */
  extraMounts: OciMount[];
  /** Host device nodes for --device (type c|b, major, minor), looked up by the caller. */
  devices: RuntimeSpec['linux']['devices'];
  /** The launcher's bounding set: a container cannot get more (crun's capset would fail). */
  availableCapabilities: readonly string[];
  /** For --init: the static init binary (catatonit) to bind into the container. */
  initBinary?: string;
}

/** Where --init's binary appears in the container: podman's path, so scripts that look for it find it. */
export const CONTAINER_INIT_PATH = '/run/podman-init';

/** Every capability Linux 6.x knows, in kernel bit order: what a privileged container gets. */
export const ALL_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
].map((name) => `CAP_${name}`);

/** podman's default set for unprivileged containers. */
export const DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'].map(
  (name) => `CAP_${name}`,
);

const RLIMIT_NAMES: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK',
};

const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;
const CPU_PERIOD = 100_000;
const UNLIMITED = 2 ** 64 - 1;

function capabilityName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

function where(container: ContainerSpec): { parameter: string; image: string } {
  return { parameter: `${container.parameter} #${container.index}`, image: container.image };
}

/** The capabilities of a `CapBnd:` line of /proc/self/status. */
export function boundingCapabilities(procStatus: string): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(procStatus)?.[1];
  if (hex === undefined) return ALL_CAPABILITIES;
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

export function capabilitiesFor(container: ContainerSpec, available: readonly string[] = ALL_CAPABILITIES): string[] {
  const base = container.privileged ? ALL_CAPABILITIES : DEFAULT_CAPABILITIES;
  const drop = new Set(container.capDrop.map(capabilityName));
  const selected = new Set(drop.has('CAP_ALL') ? [] : base.filter((cap) => !drop.has(cap)));
  for (const cap of container.capAdd.map(capabilityName)) {
    if (cap === 'CAP_ALL') ALL_CAPABILITIES.forEach((item) => selected.add(item));
    else selected.add(cap);
  }
  return [...selected].filter((cap) => available.includes(cap));
}

/** podman semantics: --entrypoint replaces the image's Entrypoint and drops its Cmd; a command replaces Cmd. */
export function processArgs(container: ContainerSpec, image: ImageConfig): string[] {
  const entrypoint = container.entrypoint ?? image.config?.Entrypoint ?? [];
  const cmd = container.command.length > 0 ? container.command : container.entrypoint !== undefined ? [] : (image.config?.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new OcinitError('the image has no Entrypoint or Cmd and the container gives no command: nothing to run', {
      ...where(container),
      hint: 'add the command after the image name, or --entrypoint',
    });
  }
  return args;
}

/** `host` shares the launcher's namespace, `ns:PATH` joins an existing one, anything else gets a new one. */
function namespace(type: string, mode: string | undefined): RuntimeSpec['linux']['namespaces'] {
  if (mode === 'host') return [];
  if (mode?.startsWith('ns:') === true) return [{ type, path: mode.slice(3) }];
  return [{ type }];
}

function namespaces(container: ContainerSpec): RuntimeSpec['linux']['namespaces'] {
  return [
    { type: 'mount' },
    { type: 'cgroup' },
    ...namespace('pid', container.pid),
    ...namespace('ipc', container.ipc),
    ...namespace('uts', container.uts),
    // none and private: a namespace of its own with only loopback (ocinit has no container networks).
    ...namespace('network', container.network),
  ];
}

/**
 * --read-only: podman's writable scratch directories, but noexec. (podman's own are exec; W^X needs
 * them not to be, and a noexec upper directory would not help: overlayfs executes from it anyway.)
 */
const READ_ONLY_SCRATCH: readonly { destination: string; mode: string }[] = [
  { destination: '/tmp', mode: '1777' },
  { destination: '/var/tmp', mode: '1777' },
  { destination: '/run', mode: '755' },
];

function readOnlyScratch(container: ContainerSpec): OciMount[] {
  return READ_ONLY_SCRATCH.filter((scratch) => !container.tmpfs.some((tmpfs) => tmpfs.destination === scratch.destination)).map((scratch) => ({
    destination: scratch.destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['rw', 'nosuid', 'nodev', 'noexec', `mode=${scratch.mode}`],
  }));
}

function baseMounts(container: ContainerSpec): OciMount[] {
  const shmSize = container.shmSize ?? DEFAULT_SHM_BYTES;
  const mounts: OciMount[] = [{ destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] }];
  if (container.privileged) {
    // boot2container's containers see the machine: every device, sysfs with its cgroup tree.
    mounts.push(
      { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind', 'rw'] },
      { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rw'] },
    );
  } else {
    mounts.push(
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    );
  }
  mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] });
  for (const tmpfs of container.tmpfs) {
    mounts.push({ destination: tmpfs.destination, type: 'tmpfs', source: 'tmpfs', options: tmpfs.options.length > 0 ? tmpfs.options : ['rw', 'nosuid', 'nodev'] });
  }
  if (container.readOnly) mounts.push(...readOnlyScratch(container));
  return mounts;
}

function resources(container: ContainerSpec): RuntimeSpec['linux']['resources'] {
  const result: RuntimeSpec['linux']['resources'] = {
    devices: container.privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
  };
  if (container.memory !== undefined) result.memory = { limit: container.memory };
  if (container.cpus !== undefined) result.cpu = { quota: Math.round(container.cpus * CPU_PERIOD), period: CPU_PERIOD };
  return result;
}

/** -w, else the image's WorkingDir, else /. */
export function workingDirectory(container: ContainerSpec, image: ImageConfig): string {
  const cwd = container.workdir ?? (image.config?.WorkingDir !== undefined && image.config.WorkingDir !== '' ? image.config.WorkingDir : '/');
  if (!cwd.startsWith('/')) throw new OcinitError(`the working directory '${cwd}' is not absolute`, { ...where(container), hint: 'give -w an absolute path' });
  return cwd;
}

export function createRuntimeSpec(input: RuntimeSpecInput): RuntimeSpec {
  const { container, image } = input;
  const capabilities = capabilitiesFor(container, input.availableCapabilities);
  const cwd = workingDirectory(container, image);
  const deviceRules = input.devices.map((device) => ({ allow: true, access: 'rwm', type: device.type, major: device.major, minor: device.minor }));
  const linuxResources = resources(container);
  linuxResources.devices.push(...deviceRules);
  const args = processArgs(container, image);
  const initMounts: OciMount[] = [];
  if (container.init) {
    if (input.initBinary === undefined) {
      throw new OcinitError('--init needs an init binary to run as the container\'s PID 1, and this initramfs has none', {
        ...where(container),
        hint: 'build the initramfs with catatonit (initrd/binaries.txt), or drop --init',
      });
    }
    // catatonit becomes PID 1: it reaps the orphans the command leaves and forwards signals to it.
    args.unshift(CONTAINER_INIT_PATH, '--');
    initMounts.push({ destination: CONTAINER_INIT_PATH, type: 'bind', source: input.initBinary, options: ['bind', 'ro', 'nosuid', 'nodev'] });
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: container.tty,
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: input.user.additionalGids },
      args,
      env: input.env,
      cwd,
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities, inheritable: [], ambient: [] },
      rlimits: container.ulimits.flatMap((limit) => {
        const type = RLIMIT_NAMES[limit.name];
        if (type === undefined) return [];
        return [{ type, soft: limit.soft < 0 ? UNLIMITED : limit.soft, hard: limit.hard < 0 ? UNLIMITED : limit.hard }];
      }),
      noNewPrivileges: container.noNewPrivileges,
    },
    root: { path: input.rootfs, readonly: container.readOnly },
    hostname: input.hostname,
    mounts: [...baseMounts(container), ...input.extraMounts, ...initMounts],
    linux: {
      namespaces: namespaces(container),
      devices: input.devices,
      resources: linuxResources,
      cgroupsPath: `/ocinit/${input.id}`,
      maskedPaths: container.privileged
        ? []
        : ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
      readonlyPaths: container.privileged ? [] : ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
