import { Secret } from '../log/secret.ts';
import type { ContainerSpec, DeviceSpec, MountSpec, PullPolicy, UlimitSpec, VolumeMount } from './plan.ts';
import {
  isHostName,
  isIpAddress,
  parseBoolean,
  parseInteger,
  parseNonNegativeNumber,
  parseOptionItems,
  parseSize,
} from './values.ts';

/** Where a flag reports a bad value; the container parser adds the container and flag names. */
export interface FlagContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  problem(message: string, hint?: string): void;
}

/** One podman-run flag we understand. Boolean flags receive 'true'/'false' (from `--flag[=BOOL]`). */
export interface ContainerFlag {
  /** Long name first (`--env`), then the short one if any (`-e`) and aliases (`--net`). */
  names: readonly string[];
  takesValue: boolean;
  /** For the docs: what the value looks like. */
  syntax: string;
  doc: string;
  apply(spec: ContainerSpec, value: string, context: FlagContext): void;
}

const PULL_POLICIES: readonly PullPolicy[] = ['always', 'missing', 'never', 'newer'];
const VOLUME_OPTIONS = new Set([
  'ro', 'rw', 'z', 'Z', 'O', 'U', 'exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'bind', 'rbind',
  'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'unbindable', 'runbindable', 'nocopy', 'copy', 'idmap',
]);
/** podman's volume options ocinit recognises but cannot honour: refused rather than ignored. */
const UNSUPPORTED_VOLUME_OPTIONS = new Map([
  ['O', 'an overlay on the source'],
  ['U', 'chown to the container user'],
  ['idmap', 'an id-mapped mount'],
  ['copy', "copying the image's files into the volume"],
]);
/**
 * --mount options beyond type/source/destination/ro/tmpfs-*, per type. relabel (SELinux) is
 * harmless with no SELinux policy loaded; volume-nocopy is what ocinit always does.
 */
const MOUNT_OPTIONS: Record<'bind' | 'volume' | 'tmpfs', readonly string[]> = {
  bind: ['bind-propagation', 'bind-nonrecursive', 'relabel'],
  volume: ['relabel', 'volume-nocopy'],
  tmpfs: [],
};
const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'unbindable', 'runbindable'];
const ULIMIT_NAMES = new Set([
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio',
  'rttime', 'sigpending', 'stack',
]);

function bool(names: readonly string[], doc: string, set: (spec: ContainerSpec, value: boolean) => void): ContainerFlag {
  return {
    names,
    takesValue: false,
    syntax: '[=true|false]',
    doc,
    apply(spec, value, context) {
      const parsed = parseBoolean(value);
      if (parsed === undefined) context.problem(`'${value}' is not true or false`);
      else set(spec, parsed);
    },
  };
}

function valued(
  names: readonly string[],
  syntax: string,
  doc: string,
  apply: (spec: ContainerSpec, value: string, context: FlagContext) => void,
): ContainerFlag {
  return { names, takesValue: true, syntax, doc, apply };
}

const isAbsolutePath = (path: string): boolean => path.startsWith('/');

/** host, none, private or ns:PATH: what ocinit can give a container without a network stack of its own. */
function parseNamespaceMode(value: string, allowNone: boolean, context: FlagContext): string | undefined {
  if (value === 'host' || value === 'private' || (allowNone && value === 'none')) return value;
  if (value.startsWith('ns:') && isAbsolutePath(value.slice(3))) return value;
  const choices = allowNone ? 'host, none, private or ns:/PATH' : 'host, private or ns:/PATH';
  context.problem(`unsupported mode '${value}'`, `use ${choices} (containers share the host's by default, like boot2container)`);
  return undefined;
}

function parseVolume(value: string, context: FlagContext): VolumeMount | undefined {
  const parts = value.split(':');
  if (parts.some((part) => part === '') || parts.length > 3) {
    context.problem(`'${value}' is not SRC:DST[:OPTIONS]`, 'e.g. -v results:/results or -v /dev/shm:/dev/shm:ro');
    return undefined;
  }
  let [source = '', destination = '', optionText = ''] = parts;
  if (parts.length === 1) [source, destination] = ['', source];
  else if (parts.length === 2 && !isAbsolutePath(destination) && destination.split(',').every((o) => VOLUME_OPTIONS.has(o)))
    [source, destination, optionText] = ['', source, destination];
  if (!isAbsolutePath(destination)) {
    context.problem(`the destination '${destination}' is not an absolute path`, 'write the path inside the container, e.g. /results');
    return undefined;
  }
  const options = optionText === '' ? [] : optionText.split(',');
  const unknown = options.filter((option) => !VOLUME_OPTIONS.has(option));
  if (unknown.length > 0) {
    context.problem(`unknown volume option(s) ${unknown.join(', ')}`, `use any of ${[...VOLUME_OPTIONS].join(', ')}`);
    return undefined;
  }
  const refused = options.filter((option) => UNSUPPORTED_VOLUME_OPTIONS.has(option));
  if (refused.length > 0) {
    const what = refused.map((option) => `${option} (${UNSUPPORTED_VOLUME_OPTIONS.get(option) ?? ''})`).join(', ');
    context.problem(`volume option(s) ${what} not supported by ocinit`, `drop them; supported: ${[...VOLUME_OPTIONS].filter((option) => !UNSUPPORTED_VOLUME_OPTIONS.has(option)).join(', ')}`);
    return undefined;
  }
  let kind: VolumeMount['kind'] = 'named';
  if (source === '') kind = 'anonymous';
  else if (source.startsWith('/') || source.startsWith('.')) kind = 'bind';
  else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source)) {
    context.problem(`'${source}' is neither a host path nor a valid volume name`, 'volume names use letters, digits, _ . -');
    return undefined;
  }
  return { source, kind, destination, options, readOnly: options.includes('ro') };
}

function parseMount(value: string, context: FlagContext): MountSpec | undefined {
  let type: string | undefined;
  let source = '';
  let destination = '';
  let readOnly = false;
  let size: number | undefined;
  let mode: number | undefined;
  const options: Record<string, string> = {};
  for (const { key, value: itemValue } of parseOptionItems(value.split(','))) {
    const text = itemValue ?? '';
    if (key === 'type') type = text;
    else if (key === 'source' || key === 'src') source = text;
    else if (key === 'destination' || key === 'dst' || key === 'target') destination = text;
    else if (key === 'ro' || key === 'readonly') {
      const parsed = itemValue === undefined ? true : parseBoolean(itemValue);
      if (parsed === undefined) return void context.problem(`${key}=${text} is not true or false`);
      readOnly = parsed;
    } else if (key === 'tmpfs-size') {
      size = parseSize(text);
      if (size === undefined) return void context.problem(`tmpfs-size=${text} is not a size`, 'e.g. tmpfs-size=512m');
    } else if (key === 'tmpfs-mode') {
      mode = /^[0-7]{1,4}$/.test(text) ? Number.parseInt(text, 8) : undefined;
      if (mode === undefined) return void context.problem(`tmpfs-mode=${text} is not an octal mode`, 'e.g. tmpfs-mode=1777');
    } else options[key] = text;
  }
  if (!isAbsolutePath(destination))
    return void context.problem(`'${value}' has no absolute destination`, 'add destination=/PATH (or dst=, target=)');
  if (type === 'bind' || type === 'volume' || type === 'tmpfs') {
    const allowed = MOUNT_OPTIONS[type];
    const unknown = Object.keys(options).filter((key) => !allowed.includes(key));
    if (unknown.length > 0)
      return void context.problem(`type=${type}: option(s) ${unknown.join(', ')} not supported by ocinit`, `drop them${allowed.length > 0 ? `; supported besides source, destination, ro: ${allowed.join(', ')}` : ''}`);
    const propagation = options['bind-propagation'];
    if (propagation !== undefined && !PROPAGATIONS.includes(propagation))
      return void context.problem(`bind-propagation=${propagation} is not one of ${PROPAGATIONS.join(', ')}`);
  }
  if (type === 'tmpfs') return { type, destination, ...(size === undefined ? {} : { size }), ...(mode === undefined ? {} : { mode }), options };
  if (type === 'bind') {
    if (!isAbsolutePath(source)) return void context.problem(`a bind mount needs an absolute source=/PATH`);
    return { type, source, destination, readOnly, options };
  }
  if (type === 'volume') return { type, source, destination, readOnly, options };
  context.problem(`unsupported mount type '${type ?? ''}'`, 'use type=bind, type=volume or type=tmpfs');
  return undefined;
}

function parseDevice(value: string, context: FlagContext): DeviceSpec | undefined {
  const parts = value.split(':');
  const [hostPath = '', second, third] = parts;
  let containerPath = hostPath;
  let permissions = 'rwm';
  if (parts.length === 2 && second !== undefined && /^[rwm]+$/.test(second)) permissions = second;
  else if (second !== undefined) containerPath = second;
  if (third !== undefined) permissions = third;
  if (parts.length > 3 || !isAbsolutePath(hostPath) || !isAbsolutePath(containerPath) || !/^[rwm]+$/.test(permissions)) {
    context.problem(`'${value}' is not HOST[:CONTAINER][:PERMISSIONS]`, 'e.g. --device /dev/dri/card0 or --device /dev/kvm:/dev/kvm:rw');
    return undefined;
  }
  return { hostPath, containerPath, permissions };
}

function parseUlimit(value: string, context: FlagContext): UlimitSpec | undefined {
  const match = /^([a-z]+)=(-?\d+|unlimited)(?::(-?\d+|unlimited))?$/.exec(value);
  const limit = (text: string | undefined): number | undefined =>
    text === undefined ? undefined : text === 'unlimited' ? -1 : parseInteger(text, -1, Number.MAX_SAFE_INTEGER);
  const name = match?.[1] ?? '';
  const soft = limit(match?.[2]);
  const hard = limit(match?.[3] ?? match?.[2]);
  if (!ULIMIT_NAMES.has(name) || soft === undefined || hard === undefined) {
    context.problem(`'${value}' is not NAME=SOFT[:HARD]`, `e.g. --ulimit nofile=1024:4096; names: ${[...ULIMIT_NAMES].join(', ')}`);
    return undefined;
  }
  return { name, soft, hard };
}

function parseEntrypoint(value: string, context: FlagContext): string[] | undefined {
  if (value === '') return [];
  if (!value.trimStart().startsWith('[')) return [value];
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((item): item is string => typeof item === 'string')) return parsed;
  } catch {
    // reported below
  }
  context.problem(`'${value}' is not a JSON array of strings`, `e.g. --entrypoint='["/bin/sh","-c"]'`);
  return undefined;
}

function parseEnv(spec: ContainerSpec, value: string, context: FlagContext): void {
  const equals = value.indexOf('=');
  const name = equals < 0 ? value : value.slice(0, equals);
  if (name === '' || /[\s*]/.test(name)) {
    context.problem(`'${value}' is not NAME=VALUE or NAME`, 'e.g. -e CI_JOB_ID=1234');
    return;
  }
  if (equals >= 0) {
    spec.env.push({ name, value: value.slice(equals + 1) });
    return;
  }
  const inherited = context.env[name];
  if (inherited === undefined)
    context.problem(`'${name}' has no value and is not set in the launcher's environment`, `write -e ${name}=VALUE`);
  else spec.env.push({ name, value: inherited });
}

function parseCaps(value: string, context: FlagContext): string[] {
  const caps: string[] = [];
  for (const cap of value.split(',')) {
    const upper = cap.toUpperCase();
    if (upper === 'ALL') caps.push('ALL');
    else if (/^(CAP_)?[A-Z_]+$/.test(upper)) caps.push(upper.startsWith('CAP_') ? upper : `CAP_${upper}`);
    else context.problem(`'${cap}' is not a capability name`, 'e.g. --cap-add=SYS_ADMIN');
  }
  return caps;
}

function setSize(value: string, context: FlagContext, set: (bytes: number) => void): void {
  const bytes = parseSize(value);
  if (bytes === undefined) context.problem(`'${value}' is not a size`, 'e.g. 512m or 2g');
  else set(bytes);
}

/** Every podman-run flag ocinit accepts. Anything else in a container string is an error. */
export const CONTAINER_FLAGS: readonly ContainerFlag[] = [
  bool(['--tty', '-t'], 'Allocate a pseudo-terminal (the console) for the container.', (s, v) => void (s.tty = v)),
  bool(['--interactive', '-i'], "Keep the container's stdin open: the console. Without -i (and without -t) stdin is /dev/null, as with podman; with -t the terminal is the console, input included.", (s, v) => void (s.interactive = v)),
  valued(['--env', '-e'], 'NAME=VALUE | NAME', "Set an environment variable; NAME alone takes the launcher's value.", parseEnv),
  valued(['--env-file'], 'PATH', 'Read NAME=VALUE lines from PATH (inside the initramfs or a volume) at run time.', (s, v, c) => {
    if (isAbsolutePath(v)) s.envFiles.push(v);
    else c.problem(`'${v}' is not an absolute path`);
  }),
  valued(['--volume', '-v'], 'SRC:DST[:OPTIONS] | DST', 'Mount a named volume (b2c.volume), a host path, or an anonymous volume. OPTIONS ro, rw, bind (not recursive; rbind is the default), propagation (shared, rslave, ...), exec, noexec, suid, nosuid, dev, nodev are applied; nocopy is what ocinit always does (it never copies the image\'s files into a volume, unlike podman); z and Z have no effect, as no SELinux policy is loaded in the initramfs; O, U, idmap and copy are errors.', (s, v, c) => {
    const volume = parseVolume(v, c);
    if (volume !== undefined) s.volumes.push(volume);
  }),
  valued(['--mount'], 'type=bind|volume|tmpfs,source=SRC,destination=DST[,ro][,...]', 'Mount with explicit options. Also bind-propagation=, bind-nonrecursive (bind), volume-nocopy (volume: always so), relabel= (no effect: no SELinux policy is loaded); any other option is an error.', (s, v, c) => {
    const mount = parseMount(v, c);
    if (mount !== undefined) s.mounts.push(mount);
  }),
  valued(['--tmpfs'], 'DST[:OPTIONS]', 'Mount a tmpfs at DST (OPTIONS: comma-separated mount options).', (s, v, c) => {
    const [destination = '', options = ''] = v.split(/:(.*)/s);
    if (isAbsolutePath(destination)) s.tmpfs.push({ destination, options: options === '' ? [] : options.split(',') });
    else c.problem(`'${destination}' is not an absolute path`);
  }),
  valued(['--workdir', '-w'], 'DIR', 'Working directory inside the container.', (s, v, c) => {
    if (isAbsolutePath(v)) s.workdir = v;
    else c.problem(`'${v}' is not an absolute path`);
  }),
  valued(['--entrypoint'], 'CMD | JSON-ARRAY', "Replace the image's entrypoint (\"\" clears it).", (s, v, c) => {
    const entrypoint = parseEntrypoint(v, c);
    if (entrypoint !== undefined) s.entrypoint = entrypoint;
  }),
  valued(['--user', '-u'], 'USER[:GROUP]', 'Run as this user (name or uid).', (s, v, c) => {
    if (v === '' || /\s/.test(v)) c.problem(`'${v}' is not a user`);
    else s.user = v;
  }),
  bool(['--tls-verify'], 'Verify the registry TLS certificate (default true); false also allows plain HTTP.', (s, v) => void (s.tlsVerify = v)),
  valued(['--dns'], 'IP | none', "DNS server for the container (repeatable); 'none' leaves /etc/resolv.conf alone.", (s, v, c) => {
    if (v === 'none' || isIpAddress(v)) s.dns.push(v);
    else c.problem(`'${v}' is not an IP address or 'none'`);
  }),
  valued(['--pull'], PULL_POLICIES.join('|'), "When to pull the image (default 'always', like boot2container).", (s, v, c) => {
    const policy = PULL_POLICIES.find((candidate) => candidate === v);
    if (policy === undefined) c.problem(`'${v}' is not a pull policy`, `use one of ${PULL_POLICIES.join(', ')}`);
    else s.pull = policy;
  }),
  valued(['--network', '--net'], 'host|none|private|ns:PATH', "Network namespace (default 'host', like boot2container).", (s, v, c) => {
    const mode = parseNamespaceMode(v, true, c);
    if (mode !== undefined) s.network = mode;
  }),
  valued(['--pid'], 'host|private|ns:PATH', 'PID namespace.', (s, v, c) => {
    const mode = parseNamespaceMode(v, false, c);
    if (mode !== undefined) s.pid = mode;
  }),
  valued(['--ipc'], 'host|private|ns:PATH', 'IPC namespace.', (s, v, c) => {
    const mode = parseNamespaceMode(v, true, c);
    if (mode !== undefined) s.ipc = mode;
  }),
  valued(['--uts'], 'host|private|ns:PATH', 'UTS (hostname) namespace.', (s, v, c) => {
    const mode = parseNamespaceMode(v, false, c);
    if (mode !== undefined) s.uts = mode;
  }),
  bool(['--privileged'], 'Full privileges (the default, like boot2container; =false drops them).', (s, v) => void (s.privileged = v)),
  valued(['--cap-add'], 'CAP[,CAP...]', 'Add capabilities (useful with --privileged=false).', (s, v, c) => void s.capAdd.push(...parseCaps(v, c))),
  valued(['--cap-drop'], 'CAP[,CAP...]', 'Drop capabilities.', (s, v, c) => void s.capDrop.push(...parseCaps(v, c))),
  valued(['--device'], 'HOST[:CONTAINER][:PERMISSIONS]', 'Expose a device node (rwm permissions).', (s, v, c) => {
    const device = parseDevice(v, c);
    if (device !== undefined) s.devices.push(device);
  }),
  valued(['--hostname', '-h'], 'NAME', "The container's host name.", (s, v, c) => {
    if (isHostName(v)) s.hostname = v;
    else c.problem(`'${v}' is not a valid host name`);
  }),
  valued(['--name'], 'NAME', 'Container name, shown beside `b2c.container #N` in the log.', (s, v, c) => {
    if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v)) s.name = v;
    else c.problem(`'${v}' is not a valid container name`, 'use letters, digits, _ . -');
  }),
  {
    names: ['--rm'],
    takesValue: false,
    syntax: '[=true]',
    doc: "Remove the container when it exits: always so (boot2container's default); `--rm=false` is an error, since nothing could inspect a kept container.",
    apply(_spec, value, context) {
      const remove = parseBoolean(value);
      if (remove === undefined) context.problem(`'${value}' is not true or false`);
      else if (!remove) context.problem('--rm=false: ocinit removes every container when it exits, nothing could inspect it afterwards', 'drop --rm=false; copy what you need into a volume');
    },
  },
  valued(['--platform'], 'OS/ARCH[/VARIANT]', 'Pick this platform from a multi-platform image.', (s, v, c) => {
    if (/^[a-z0-9_]+\/[a-z0-9_]+(\/[a-z0-9_]+)?$/.test(v)) s.platform = v;
    else c.problem(`'${v}' is not OS/ARCH[/VARIANT]`, 'e.g. linux/arm64/v8');
  }),
  valued(['--creds'], 'USER:PASSWORD', 'Registry credentials (printed as ***).', (s, v, c) => {
    const colon = v.indexOf(':');
    if (colon <= 0) c.problem('the value is not USER:PASSWORD', 'ocinit cannot prompt for a password at boot');
    else s.creds = { username: v.slice(0, colon), password: new Secret(v.slice(colon + 1)) };
  }),
  valued(['--authfile'], 'PATH', 'Registry credentials file (containers-auth.json format), read at run time.', (s, v, c) => {
    if (isAbsolutePath(v)) s.authfile = v;
    else c.problem(`'${v}' is not an absolute path`);
  }),
  valued(
    ['--security-opt'],
    'no-new-privileges[=true|false] | seccomp=unconfined | apparmor=unconfined | label=...',
    'Repeatable. `no-new-privileges`: the process cannot gain privileges (setuid, file capabilities). `seccomp=unconfined` and `apparmor=unconfined` are what every ocinit container gets anyway (it loads no seccomp filter and no AppArmor profile). `label=...` is accepted and has no effect: no SELinux policy is loaded in the initramfs, so there is nothing to label or disable. Other options (seccomp or AppArmor profiles, mask, unmask, proc-opts) are errors.',
    (s, v, c) => {
      const noNewPrivileges = /^no-new-privileges(?:[=:](.*))?$/.exec(v);
      if (noNewPrivileges !== null) {
        const enabled = noNewPrivileges[1] === undefined ? true : parseBoolean(noNewPrivileges[1]);
        if (enabled === undefined) return void c.problem(`'${v}' is not no-new-privileges[=true|false]`);
        s.noNewPrivileges = enabled;
      } else if (v !== 'seccomp=unconfined' && v !== 'apparmor=unconfined' && !v.startsWith('label=')) {
        return void c.problem(
          `security option '${v}' is not supported by ocinit`,
          'ocinit loads no seccomp filter, AppArmor profile or SELinux policy; supported: no-new-privileges, seccomp=unconfined, apparmor=unconfined, label=...',
        );
      }
      s.securityOpt.push(v);
    },
  ),
  valued(['--ulimit'], 'NAME=SOFT[:HARD]', 'Resource limit (-1 or unlimited for no limit; repeatable).', (s, v, c) => {
    const ulimit = parseUlimit(v, c);
    if (ulimit !== undefined) s.ulimits.push(ulimit);
  }),
  bool(['--init'], 'Run a minimal init as PID 1 that reaps zombies and forwards signals.', (s, v) => void (s.init = v)),
  bool(['--read-only'], "Mount the container's root read-only, with tmpfs on /tmp, /var/tmp and /run (noexec, nosuid, nodev; a --tmpfs on one of them replaces it). With b2c.image_format=erofs the root is the dm-verity-checked image: W^X, what can be written cannot be executed (docs/security.md).", (s, v) => void (s.readOnly = v)),
  valued(['--shm-size'], 'SIZE', 'Size of /dev/shm.', (s, v, c) => setSize(v, c, (bytes) => void (s.shmSize = bytes))),
  valued(['--memory', '-m'], 'SIZE', 'Memory limit.', (s, v, c) => setSize(v, c, (bytes) => void (s.memory = bytes))),
  valued(['--cpus'], 'NUMBER', 'CPU limit (e.g. 1.5).', (s, v, c) => {
    const cpus = parseNonNegativeNumber(v);
    if (cpus === undefined || cpus === 0) c.problem(`'${v}' is not a positive number`);
    else s.cpus = cpus;
  }),
];

const FLAGS_BY_NAME = new Map(CONTAINER_FLAGS.flatMap((flag) => flag.names.map((name) => [name, flag] as const)));

export function findContainerFlag(name: string): ContainerFlag | undefined {
  return FLAGS_BY_NAME.get(name);
}

export function containerFlagNames(): string[] {
  return [...FLAGS_BY_NAME.keys()];
}
