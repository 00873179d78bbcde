import { MIRROR_SYNTAX, parseMirrorEntry } from '../oci/mirrors.ts';
import { DEFAULT_PCR, isValidPcr } from '../tpm/pcr.ts';
import { parseContainer } from './container.ts';
import { parseInterface, parseIp, parseProxy } from './network.ts';
import type { ContainerParameter, NtpPeer, Plan } from './plan.ts';
import { parseCacheDevice, parseFilesystem, parseMinio, parseNbd, parseStorage, parseSwap, parseVolume } from './storage.ts';
import { isHostName, isHttpUrl, isIpAddress, protectUrlCredentials, parseBoolean, parseNonNegativeNumber, parseSize, type ValueContext } from './values.ts';

/**
 * One kernel command line parameter. The parser, `ocinit cmdline` and docs/cmdline.md all come
 * from this table: adding a parameter is adding an entry here (and its field to Plan).
 */
export interface ParameterDefinition {
  name: string;
  /** Other spellings (older or newer boot2container names). */
  aliases: readonly string[];
  /** The value's shape, for docs and hints. */
  syntax: string;
  /**
   * The default, as the docs show it. A default that is a value is rendered from `DEFAULTS` (the
   * default Plan), never written a second time here; `(…)` texts describe an absent value.
   */
  defaultText: string;
  doc: string;
  example: string;
  /** Where ocinit deliberately behaves differently from boot2container, and why. */
  differences?: string;
  /** Repeatable parameters accumulate in order; the others keep their last occurrence. */
  repeatable: boolean;
  /** A bare word (`b2c.pipefail`); `=true|false` is accepted too. */
  flag: boolean;
  /** 'early' parameters act before the network is up: extra arguments come too late for them. */
  stage: 'early' | 'late';
  /** Sets (or appends to) the plan. Problems go to `context`; it never throws. */
  apply(plan: Plan, value: string | undefined, context: ValueContext): void;
}

/** The plan of an empty command line: every default in one place, next to the table. */
export function createDefaultPlan(): Plan {
  return {
    containers: [],
    services: [],
    postContainers: [],
    serviceOutput: 'file',
    pipefail: false,
    switchRoot: undefined,
    containerTimeoutSeconds: undefined,
    pipelineTimeoutSeconds: undefined,
    shutdown: { poweroffDelaySeconds: 0, shutdownCommand: 'poweroff -f', rebootCommand: 'reboot -f' },
    cacheDevice: { kind: 'none' },
    cache: { auto: 'wipe', waitSeconds: 10, verify: false, offline: 'digest', minFree: { percent: 10 } },
    swap: undefined,
    ntpPeer: { kind: 'none' },
    modules: [],
    interfaces: [],
    dhcpTimeoutSeconds: 10,
    ip: undefined,
    hostname: 'boot2container',
    keymap: undefined,
    extraArgsUrl: undefined,
    proxy: undefined,
    registryMirrors: [],
    signatures: 'policy',
    tpm: 'auto',
    tpmPcr: DEFAULT_PCR,
    volumes: [],
    filesystems: [],
    minio: [],
    additionalImageStores: [],
    nbd: [],
    imageFormat: 'tree',
    debugCrash: undefined,
  };
}

/** The default Plan, read by the table's `defaultText`s so that docs and behaviour cannot drift. */
const DEFAULTS: Readonly<Plan> = createDefaultPlan();

/** b2c has no timeouts (farms watch the console); ours stop a hung job and still report it. */
function timeoutParameter(name: string, field: 'containerTimeoutSeconds' | 'pipelineTimeoutSeconds', doc: string): ParameterDefinition {
  return {
    name,
    aliases: [],
    syntax: 'SECONDS',
    defaultText: '(none)',
    doc,
    example: `${name}=3600`,
    differences: 'Not in boot2container, which waits forever.',
    repeatable: false,
    flag: false,
    stage: 'late',
    apply(plan, value, context) {
      const seconds = parseNonNegativeNumber(value ?? '');
      if (seconds === undefined || seconds === 0) context.problem(`'${value ?? ''}' is not a positive number of seconds`, `e.g. ${name}=3600`);
      else plan[field] = seconds;
    },
  };
}

/** Runs `parse` on a non-empty value; an empty one is a problem. */
function nonEmpty(value: string | undefined, context: ValueContext, example: string): string | undefined {
  if (value !== undefined && value !== '') return value;
  context.problem('needs a value', `e.g. ${example}`);
  return undefined;
}

function containerList(plan: Plan, parameter: ContainerParameter): Plan['containers'] {
  if (parameter === 'b2c.service') return plan.services;
  if (parameter === 'b2c.post_container') return plan.postContainers;
  return plan.containers;
}

// Containers that were rejected still count in the numbering, so that "b2c.container #3" in a
// message is the third b2c.container of the line.
const rejectedContainers = new WeakMap<object, number>();

function containerParameter(
  name: ContainerParameter,
  aliases: readonly string[],
  doc: string,
  example: string,
  differences: string,
): ParameterDefinition {
  return {
    name,
    aliases,
    syntax: '[PODMAN-RUN-FLAGS] [docker://]IMAGE [COMMAND [ARG...]]',
    defaultText: '(none)',
    doc,
    example,
    differences,
    repeatable: true,
    flag: false,
    stage: 'late',
    apply(plan, value, context) {
      const text = nonEmpty(value, context, example);
      if (text === undefined) return;
      const list = containerList(plan, name);
      const rejected = rejectedContainers.get(list) ?? 0;
      const spec = parseContainer(text, name, list.length + rejected + 1, context);
      if (spec !== undefined) list.push(spec);
      else rejectedContainers.set(list, rejected + 1);
    },
  };
}

/** Builds a repeatable parameter from a value parser and the list it appends to. */
function listParameter<T>(
  meta: Omit<ParameterDefinition, 'apply' | 'repeatable' | 'flag' | 'defaultText'>,
  parse: (value: string, context: ValueContext) => T | undefined,
  list: (plan: Plan) => T[],
): ParameterDefinition {
  return {
    ...meta,
    defaultText: '(none)',
    repeatable: true,
    flag: false,
    apply(plan, value, context) {
      const text = nonEmpty(value, context, meta.example);
      if (text === undefined) return;
      const parsed = parse(text, context);
      if (parsed !== undefined) list(plan).push(parsed);
    },
  };
}

function shutdownCommandParameter(name: string, field: 'shutdownCommand' | 'rebootCommand', doc: string): ParameterDefinition {
  const defaultText = DEFAULTS.shutdown[field];
  const example = `${name}="${defaultText}"`;
  return {
    name,
    aliases: [],
    syntax: 'COMMAND',
    defaultText,
    doc,
    example,
    repeatable: false,
    flag: false,
    stage: 'late',
    apply(plan, value, context) {
      const command = nonEmpty(value?.trim(), context, example);
      if (command !== undefined) plan.shutdown = { ...plan.shutdown, [field]: command };
    },
  };
}

function mapDefined<T, U>(value: T | undefined, map: (value: T) => U): U | undefined {
  return value === undefined ? undefined : map(value);
}

function parseNtpPeer(value: string, context: ValueContext): NtpPeer | undefined {
  if (value === 'none' || value === 'auto') return { kind: value };
  if (isHostName(value)) return { kind: 'host', host: value };
  context.problem(`'${value}' is not none, auto, a host name or an IP address`, 'e.g. b2c.ntp_peer=auto');
  return undefined;
}

/** Builds a single-value parameter from a value parser and a setter. */
function singleParameter<T>(
  meta: Omit<ParameterDefinition, 'apply' | 'repeatable' | 'flag' | 'aliases'>,
  parse: (value: string, context: ValueContext) => T | undefined,
  set: (plan: Plan, value: T) => void,
): ParameterDefinition {
  return {
    ...meta,
    aliases: [],
    repeatable: false,
    flag: false,
    apply(plan, value, context) {
      const parsed = parse(value ?? '', context);
      if (parsed !== undefined) set(plan, parsed);
    },
  };
}

/** A single optional string: empty unsets it, anything else must pass `valid`. */
function optionalParameter(
  meta: Omit<ParameterDefinition, 'apply' | 'repeatable' | 'flag' | 'aliases'>,
  field: 'extraArgsUrl',
  valid: (value: string) => boolean,
  expected: string,
): ParameterDefinition {
  const parse = (value: string, context: ValueContext): { value: string | undefined } | undefined => {
    if (value === '') return { value: undefined };
    protectUrlCredentials(value);
    if (valid(value)) return { value };
    context.problem(`'${value}' is not ${expected}`, `e.g. ${meta.example}`);
    return undefined;
  };
  return singleParameter(meta, parse, (plan, parsed) => void (plan[field] = parsed.value));
}

/** What b2c.switch_root uses of a container string: how to pull, and the init's command and environment. */
const SWITCH_ROOT_FLAGS = ['--tls-verify', '--creds', '--authfile', '--platform', '--pull', '--entrypoint', '--env', '--env-file'];

const CONTAINER_DIFFERENCES =
  'Every flag is checked before anything runs: an unsupported or misspelt flag is an error naming the container, where boot2container let podman fail mid-pipeline. `$VAR` is not expanded (b2c `eval`ed the string in its own shell). Unquoted `; & | < > ( )` and `#` are errors instead of shell syntax.';

export const PARAMETERS: readonly ParameterDefinition[] = [
  containerParameter(
    'b2c.container',
    ['b2c.run'],
    'A container of the pipeline, run attached to the console, in order.',
    'b2c.container="-ti --tls-verify=false docker://10.42.0.1:8002/tests/mesa:12345 ./run.sh"',
    CONTAINER_DIFFERENCES,
  ),
  containerParameter(
    'b2c.service',
    ['b2c.run_service'],
    'A container started detached before the first pipeline container (only when there is a pipeline: a b2c.container or b2c.post_container), stopped at the end (SIGTERM, SIGKILL 10 s later). Its output does not reach the console: it goes to /run/ocinit/services/service-N.log, named in the summary line (see b2c.service_output).',
    'b2c.service="docker://registry.example.com/tools/power-monitor:latest"',
    CONTAINER_DIFFERENCES,
  ),
  {
    name: 'b2c.service_output',
    aliases: [],
    syntax: 'file | console',
    defaultText: DEFAULTS.serviceOutput,
    doc: "Where the services' output goes: `file` (each service's stdout and stderr in /run/ocinit/services/service-N.log, as boot2container's detached services keep it off the console), or `console`, each line prefixed with `[service-N] ` so that it cannot be mistaken for the job's.",
    example: 'b2c.service_output=console',
    differences: 'Not in boot2container, whose services never print on the console.',
    repeatable: false,
    flag: false,
    stage: 'late',
    apply(plan, value, context) {
      if (value === 'file' || value === 'console') plan.serviceOutput = value;
      else context.problem(`'${value ?? ''}' is not file or console`, 'e.g. b2c.service_output=console');
    },
  },
  containerParameter(
    'b2c.post_container',
    [],
    "Runs after the pipeline, even when it failed; its exit code doesn't change the pipeline status.",
    'b2c.post_container="-v results:/results docker://alpine:latest tar czf /results/logs.tgz /results/logs"',
    CONTAINER_DIFFERENCES,
  ),
  {
    name: 'b2c.switch_root',
    aliases: [],
    syntax: '[PODMAN-RUN-FLAGS] [docker://]IMAGE [INIT [ARG...]]',
    defaultText: '(none)',
    doc: "Boot a whole OS from an image: after the pipeline (if its status is 0; with no containers, at once), pull and verify IMAGE, unpack it into RAM, move /dev, /proc and /sys into it and hand PID 1 to its init: INIT ARGS when given, else the image's Entrypoint+Cmd, else /sbin/init. The init's environment is the image's Env, then --env-file and -e. Its flags: the pull flags (--tls-verify, --creds, --authfile, --platform, --pull), --entrypoint, -e and --env-file; any other container flag has no meaning here and is an error.",
    example: 'b2c.switch_root="--tls-verify=false 10.42.0.1:5000/debian-systemd:12 /sbin/init systemd.unit=multi-user.target"',
    differences: 'Not in boot2container.',
    repeatable: false,
    flag: false,
    stage: 'late',
    apply(plan, value, context) {
      const text = nonEmpty(value, context, 'b2c.switch_root="registry:5000/os:1"');
      if (text !== undefined) plan.switchRoot = parseContainer(text, 'b2c.switch_root', 1, context, SWITCH_ROOT_FLAGS);
    },
  },
  {
    name: 'b2c.pipefail',
    aliases: [],
    syntax: '(flag) | =true|false',
    defaultText: String(DEFAULTS.pipefail),
    doc: 'After the first failing container, skip the remaining b2c.container (post containers still run).',
    example: 'b2c.pipefail',
    differences: '`=true|false` is accepted; b2c ignored `b2c.pipefail=...` entirely.',
    repeatable: false,
    flag: true,
    stage: 'late',
    apply(plan, value, context) {
      const enabled = value === undefined || value === '' ? true : parseBoolean(value);
      if (enabled === undefined) context.problem(`'${value ?? ''}' is not true or false`, 'write b2c.pipefail alone');
      else plan.pipefail = enabled;
    },
  },
  timeoutParameter(
    'b2c.container_timeout',
    'containerTimeoutSeconds',
    'Stop any b2c.container or b2c.post_container still running after this many seconds; its status is then 124 and the pipeline goes on (post containers, shutdown).',
  ),
  timeoutParameter(
    'b2c.pipeline_timeout',
    'pipelineTimeoutSeconds',
    'Stop the b2c.container sequence after this many seconds in total: the running container ends with status 124, the remaining ones are skipped, post containers still run (each within b2c.container_timeout).',
  ),
  {
    name: 'b2c.poweroff_delay',
    aliases: [],
    syntax: 'SECONDS',
    defaultText: String(DEFAULTS.shutdown.poweroffDelaySeconds),
    doc: "Before powering off, print `It's now safe to turn off your computer` and wait this long (lets a PDU cut power).",
    example: 'b2c.poweroff_delay=15',
    differences: 'A value that is not a number is an error; b2c passed it to `sleep`, which failed and powered off at once.',
    repeatable: false,
    flag: false,
    stage: 'late',
    apply(plan, value, context) {
      const seconds = parseNonNegativeNumber(value ?? '');
      if (seconds === undefined) context.problem(`'${value ?? ''}' is not a number of seconds`, 'e.g. b2c.poweroff_delay=15');
      else plan.shutdown = { ...plan.shutdown, poweroffDelaySeconds: seconds };
    },
  },
  shutdownCommandParameter('b2c.shutdown_cmd', 'shutdownCommand', 'The command that powers the machine off.'),
  shutdownCommandParameter('b2c.reboot_cmd', 'rebootCommand', 'The command that reboots the machine when a container asked for a reboot.'),
  {
    name: 'b2c.cache_device',
    aliases: [],
    syntax: 'none | auto | reset | /dev/DEVICE | FILESYSTEM-NAME',
    defaultText: DEFAULTS.cacheDevice.kind,
    doc: 'Persistent cache (ext4 labelled B2C_CACHE) mounted at /storage. `auto` uses the first partition labelled B2C_CACHE or formats the first disk; `reset` reformats it. `/dev/PARTITION` is formatted only when it has no filesystem label: a labelled one, whatever the label, is mounted as it is. `/dev/DISK` uses its B2C_CACHE partition, or is repartitioned (logged loudly). A missing device is waited for (b2c.cache_wait), then the boot goes on without a cache. See docs/cache.md.',
    example: 'b2c.cache_device=auto',
    differences: 'A value that is none of these (or names no b2c.filesystem) is an error; b2c silently ran without a cache. A partition holding a filesystem whose label ocinit cannot read (it has no blkid: XFS, btrfs...) is mounted as it is rather than formatted.',
    repeatable: false,
    flag: false,
    stage: 'early',
    apply(plan, value, context) {
      const device = parseCacheDevice(nonEmpty(value, context, 'b2c.cache_device=auto') ?? 'none', context);
      if (device !== undefined) plan.cacheDevice = device;
    },
  },
  singleParameter(
    {
      name: 'b2c.cache_auto',
      syntax: 'wipe | empty',
      defaultText: DEFAULTS.cache.auto,
      doc: 'What b2c.cache_device=auto/reset may take when no B2C_CACHE partition exists. `wipe` (boot2container): the first suitable disk, whatever it holds, is repartitioned (logged loudly). `empty`: only a blank disk (first MiB all zeros, no partitions); otherwise the cache stays in RAM.',
      example: 'b2c.cache_auto=empty',
      differences: 'ocinit only. Even with `wipe`, auto never takes an optical drive, a read-only or virtual device, a disk under 512 MiB, or a disk holding an EFI system or bootable partition (likely the boot medium); name such a disk with b2c.cache_device=/dev/X to use it.',
      stage: 'early',
    },
    (value, context) => {
      if (value === 'wipe' || value === 'empty') return value;
      context.problem(`'${value}' is not wipe or empty`, 'e.g. b2c.cache_auto=empty');
      return undefined;
    },
    (plan, auto) => void (plan.cache = { ...plan.cache, auto }),
  ),
  singleParameter(
    {
      name: 'b2c.cache_wait',
      syntax: 'SECONDS',
      defaultText: String(DEFAULTS.cache.waitSeconds),
      doc: 'How long to wait for the cache device (or, with auto, for any disk) to appear before going on without a cache.',
      example: 'b2c.cache_wait=30',
      differences: 'ocinit only; boot2container waited a fixed 10 s.',
      stage: 'early',
    },
    (value, context) => {
      const seconds = parseNonNegativeNumber(value);
      if (seconds === undefined) context.problem(`'${value}' is not a number of seconds`, 'e.g. b2c.cache_wait=30');
      return seconds;
    },
    (plan, waitSeconds) => void (plan.cache = { ...plan.cache, waitSeconds }),
  ),
  {
    name: 'b2c.cache_verify',
    aliases: [],
    syntax: '(flag) | =true|false',
    defaultText: String(DEFAULTS.cache.verify),
    doc: 'At mount, re-hash every cached blob against its digest and discard those that do not match (they are downloaded again when needed). Blobs are always verified when read; this also catches corruption in blobs only checked by size.',
    example: 'b2c.cache_verify',
    differences: 'ocinit only.',
    repeatable: false,
    flag: true,
    stage: 'early',
    apply(plan, value, context) {
      const verify = value === undefined || value === '' ? true : parseBoolean(value);
      if (verify === undefined) context.problem(`'${value ?? ''}' is not true or false`, 'write b2c.cache_verify alone');
      else plan.cache = { ...plan.cache, verify };
    },
  },
  singleParameter(
    {
      name: 'b2c.tpm',
      syntax: 'auto | required | off',
      defaultText: DEFAULTS.tpm,
      doc: 'Measure the kernel command line and, before it runs, each image (reference, digests, signature verdict) and, with b2c.image_format=erofs, its dm-verity root hash before the kernel is given it, into one PCR of every active bank of the TPM (`/dev/tpmrm0`), with a JSON event log in /run/ocinit/tpm-eventlog.json (also printed as an `ocinit-tpm-eventlog:` line) from which the PCR can be recomputed: `auto` when a TPM exists, `required` refuses to run any image without one, `off` never. Debian\'s arm64 kernel has no TPM driver. See docs/security.md.',
      example: 'b2c.tpm=required',
      differences: 'ocinit only; boot2container measured nothing.',
      stage: 'late',
    },
    (value, context) => {
      if (value === 'auto' || value === 'required' || value === 'off') return value;
      context.problem(`'${value}' is not auto, required or off`, 'e.g. b2c.tpm=required');
      return undefined;
    },
    (plan, tpm) => void (plan.tpm = tpm),
  ),
  singleParameter(
    {
      name: 'b2c.tpm_pcr',
      syntax: '0..23',
      defaultText: String(DEFAULTS.tpmPcr),
      doc: 'The PCR b2c.tpm extends. The default, 15, is used by neither firmware (0-7), boot loaders (8, 9, 11-14: grub, the kernel\'s initrd measurement, systemd-stub, shim) nor IMA (10), and cannot be reset by software as 16 and 23 can.',
      example: 'b2c.tpm_pcr=15',
      differences: 'ocinit only.',
      stage: 'late',
    },
    (value, context) => {
      const pcr = Number(value);
      if (/^[0-9]{1,2}$/.test(value) && isValidPcr(pcr)) return pcr;
      context.problem(`'${value}' is not a PCR number (0-23)`, 'e.g. b2c.tpm_pcr=15');
      return undefined;
    },
    (plan, pcr) => void (plan.tpmPcr = pcr),
  ),
  singleParameter(
    {
      name: 'b2c.signatures',
      syntax: 'policy | required',
      defaultText: DEFAULTS.signatures,
      doc: 'Which images may run, given the signature policy built into the initramfs (`make initrd POLICY=policy.json`, see docs/security.md): `policy` applies it as it is; `required` also refuses every image it would accept unsigned (`insecureAcceptAnything`), so that each must be signed by a key the initramfs trusts; without a built-in policy, `required` refuses every image. The command line can only narrow the built-in policy: no parameter adds keys or scopes.',
      example: 'b2c.signatures=required',
      differences: 'ocinit only; boot2container verified no signatures.',
      stage: 'late',
    },
    (value, context) => {
      if (value === 'policy' || value === 'required') return value;
      context.problem(`'${value}' is not policy or required`, 'e.g. b2c.signatures=required');
      return undefined;
    },
    (plan, signatures) => void (plan.signatures = signatures),
  ),
  singleParameter(
    {
      name: 'b2c.cache_offline',
      syntax: 'digest | always | never',
      defaultText: DEFAULTS.cache.offline,
      doc: 'When the registry cannot be reached, run an image from the cache anyway: `digest` only for references pinned by digest (`image@sha256:...`), `always` also for tags (the digest the tag last resolved to, which may be stale), `never` fails the pull like boot2container. Every such run is announced in the log and the status summary.',
      example: 'b2c.cache_offline=always',
      differences: 'ocinit only; boot2container failed the job whenever the registry was down.',
      stage: 'early',
    },
    (value, context) => {
      if (value === 'digest' || value === 'always' || value === 'never') return value;
      context.problem(`'${value}' is not digest, always or never`, 'e.g. b2c.cache_offline=always');
      return undefined;
    },
    (plan, offline) => void (plan.cache = { ...plan.cache, offline }),
  ),
  singleParameter(
    {
      name: 'b2c.cache_min_free',
      syntax: 'SIZE | PERCENT%',
      defaultText: 'percent' in DEFAULTS.cache.minFree ? `${DEFAULTS.cache.minFree.percent}%` : String(DEFAULTS.cache.minFree.bytes),
      doc: 'Keep at least this much of the cache free: below it, images not used by this boot are removed, least recently used first. An image that does not fit triggers the same collection.',
      example: 'b2c.cache_min_free=20g',
      differences: 'ocinit only; boot2container never collected its cache.',
      stage: 'early',
    },
    (value, context) => {
      const percent = /^(\d{1,2})%$/.exec(value)?.[1];
      if (percent !== undefined) return { percent: Number(percent) };
      const bytes = parseSize(value);
      if (bytes !== undefined) return { bytes };
      context.problem(`'${value}' is not a size or a percentage under 100`, 'e.g. b2c.cache_min_free=20g or b2c.cache_min_free=15%');
      return undefined;
    },
    (plan, minFree) => void (plan.cache = { ...plan.cache, minFree }),
  ),
  {
    name: 'b2c.swap',
    aliases: [],
    syntax: 'SIZE[,swappiness=N] | /dev/DEVICE',
    defaultText: '(none)',
    doc: 'A swap file of SIZE on the cache partition (binary units: 8g = 8 GiB), or a swap device.',
    example: 'b2c.swap=8G,swappiness=60',
    repeatable: false,
    flag: false,
    stage: 'early',
    apply(plan, value, context) {
      plan.swap = value === undefined || value === '' ? undefined : parseSwap(value, context);
    },
  },
  singleParameter(
    {
      name: 'b2c.ntp_peer',
      syntax: 'none | auto | HOST',
      defaultText: DEFAULTS.ntpPeer.kind,
      doc: 'Set the clock from this NTP server (`auto`: pool.ntp.org). Registry TLS needs a sane clock; a failure is not fatal.',
      example: 'b2c.ntp_peer=10.42.0.1',
      stage: 'early',
    },
    parseNtpPeer,
    (plan, peer) => void (plan.ntpPeer = peer),
  ),

  {
    name: 'b2c.insmods',
    aliases: [],
    syntax: 'MODULE[,MODULE...]',
    defaultText: '(none)',
    doc: 'Kernel modules to load early, in order (paths relative to the initramfs module directory).',
    example: 'b2c.insmods=kernel/drivers/net/virtio_net.ko',
    repeatable: false,
    flag: false,
    stage: 'early',
    apply(plan, value, context) {
      const modules = (value ?? '').split(',').filter((module) => module !== '');
      const bad = modules.filter((module) => /\s/.test(module) || module.includes('..'));
      if (bad.length > 0) context.problem(`invalid module name(s): ${bad.join(', ')}`);
      else plan.modules = modules;
    },
  },
  {
    name: 'b2c.dhcp_timeout',
    aliases: [],
    syntax: 'SECONDS',
    defaultText: String(DEFAULTS.dhcpTimeoutSeconds),
    doc: 'How long DHCP may take once a link has carrier, on all candidate interfaces at once, before the boot ends with the network error.',
    example: 'b2c.dhcp_timeout=30',
    differences: 'Ours: b2c retried udhcpc for about 10 s with no way to change it.',
    repeatable: false,
    flag: false,
    stage: 'early',
    apply(plan, value, context) {
      const seconds = parseNonNegativeNumber(value ?? '');
      if (seconds === undefined || seconds === 0) context.problem(`'${value ?? ''}' is not a positive number of seconds`, 'e.g. b2c.dhcp_timeout=30');
      else plan.dhcpTimeoutSeconds = seconds;
    },
  },
  listParameter(
    {
      name: 'b2c.iface',
      aliases: [],
      syntax: 'NAME[,address=CIDR]...[,gateway=IP][,nameserver=IP]...[,route=NET:VIA]...[,forward][,auto|dhcp]',
      doc: 'Configure this interface (repeatable). When present, only these interfaces are configured.',
      example: 'b2c.iface=eth0,address=10.42.0.2/24,gateway=10.42.0.1,nameserver=10.42.0.1',
      differences: 'Several address= accumulate (b2c kept the last); IPv6 routes are written [NET]:[VIA]. A malformed address, gateway or route, or an unknown option, is an error before boot instead of a failed `ip` command or an ignored option.',
      stage: 'early',
    },
    parseInterface,
    (plan) => plan.interfaces,
  ),
  singleParameter(
    {
      name: 'ip',
      syntax: 'CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1 | dhcp | on | any | off',
      defaultText: '(none: DHCP on every eth*/en* interface)',
      doc: "The kernel's static or DHCP network configuration. When present, no DHCP of ocinit's own on other interfaces.",
      example: 'ip=10.42.0.2::10.42.0.1:255.255.255.0::eth0:off:10.42.0.1',
      differences: "ocinit applies ip= itself (b2c relied on the kernel's CONFIG_IP_PNP, which Debian kernels lack).",
      stage: 'early',
    },
    parseIp,
    (plan, ip) => void (plan.ip = ip),
  ),
  singleParameter(
    {
      name: 'b2c.hostname',
      syntax: 'NAME',
      defaultText: DEFAULTS.hostname,
      doc: "The machine's host name.",
      example: 'b2c.hostname=dut-42',
      differences: 'An invalid host name is an error.',
      stage: 'late',
    },
    (value, context) => {
      if (isHostName(value) && value.length <= 64 && !isIpAddress(value)) return value;
      context.problem(`'${value}' is not a valid host name`, 'letters, digits and hyphens, at most 64 characters, e.g. b2c.hostname=dut-42');
      return undefined;
    },
    (plan, name) => void (plan.hostname = name),
  ),

  singleParameter(
    {
      name: 'b2c.keymap',
      syntax: 'us',
      defaultText: '(the kernel\'s built-in US keymap)',
      doc: "Console keymap. ocinit's console is the serial line, where the keymap of the terminal at the other end applies; a keymap would only change a keyboard plugged into the machine, which nobody types on during a CI job. So ocinit carries no keymaps: `us` (the kernel's own) is accepted, any other keymap is an error rather than silently ignored.",
      example: 'b2c.keymap=us',
      differences: 'boot2container loaded the keymap with busybox loadkmap; ocinit refuses any keymap but us (see above).',
      stage: 'late',
    },
    (value, context) => {
      if (value === '' || value === 'us') return { keymap: value === '' ? undefined : value };
      context.problem(
        `keymap '${value}' is not available: ocinit carries no console keymaps (its console is the serial line, where the terminal's own keymap applies)`,
        'drop b2c.keymap, or write b2c.keymap=us (the kernel default)',
      );
      return undefined;
    },
    (plan, { keymap }) => void (plan.keymap = keymap),
  ),
  optionalParameter(
    {
      name: 'b2c.extra_args_url',
      syntax: 'URL',
      defaultText: '(none)',
      doc: 'Once the network is up, download more parameters from URL and apply them like the command line (keeps secrets out of the PXE config). A failed download shuts down.',
      example: 'b2c.extra_args_url=http://10.42.0.1:8000/dut-42/secrets',
      differences:
        'Parameters in the extra arguments that act before the network (modules, cache, swap, interfaces, ip=, NTP) are reported as too late instead of being silently ignored.',
      stage: 'early',
    },
    'extraArgsUrl',
    isHttpUrl,
    'an http:// or https:// URL',
  ),
  singleParameter(
    {
      name: 'b2c.proxy',
      syntax: 'URL | SCHEME=URL[,SCHEME=URL...]',
      defaultText: '(none)',
      doc: 'HTTP(S) proxy for every download ocinit makes (registries, mirrors, b2c.extra_args_url, S3): one URL for every scheme, or per scheme as CI-tron writes it (`https=URL`: https:// URLs through URL, the others direct; schemes http, https, all; later pairs override earlier ones). Empty unsets it.',
      example: 'b2c.proxy="https=http://10.42.0.1:8080"',
      stage: 'late',
    },
    (value, context) => (value === '' ? { config: undefined } : mapDefined(parseProxy(value, context), (config) => ({ config }))),
    (plan, { config }) => void (plan.proxy = config),
  ),
  listParameter(
    {
      name: 'b2c.registry_mirror',
      aliases: [],
      syntax: MIRROR_SYNTAX,
      doc:
        "A mirror of a registry (repeatable), as registries.conf's `[[registry.mirror]]`: images under REGISTRY[/NAMESPACE] are tried from each of its mirrors in order, then from the registry itself (the longest matching prefix wins; a path after the mirror's host replaces the namespace). `insecure` allows plain HTTP and unchecked certificates for that mirror only. `pull-from-mirror` (default `all`) limits the mirror to references by digest or by tag; blobs and manifests by digest are verified whatever their source. Credentials from `--creds` go only to the registry; a mirror gets those of its own host in `--authfile`. A mirror that fails is a warning and the next source is tried.",
      example: 'b2c.registry_mirror=docker.io=10.42.0.1:5000/hub,insecure',
      differences: 'Not in boot2container (podman read /etc/containers/registries.conf inside its initramfs, which a job could not change).',
      stage: 'late',
    },
    (value, context) => {
      const entry = parseMirrorEntry(value);
      if (typeof entry !== 'string') return entry;
      context.problem(entry, 'e.g. b2c.registry_mirror=docker.io=10.42.0.1:5000/hub,insecure');
      return undefined;
    },
    (plan) => plan.registryMirrors,
  ),
  listParameter(
    {
      name: 'b2c.volume',
      aliases: [],
      syntax:
        'NAME[,filesystem=FS][,mirror=ALIAS/BUCKET[/PATH]][,pull_from=...][,push_to=...][,pull_on=COND|COND][,push_on=COND|...][,expiration=never|pipeline_end][,overwrite][,remove][,exclude=GLOB]...[,encrypt_key=KEY][,preserve][,fscrypt_key=BASE64][,fscrypt_reset_key]',
      doc: 'A named volume (repeatable), optionally on a b2c.filesystem, mirrored to/from a b2c.minio bucket on hook conditions `pipeline_start`, `container_start`, `container_end`, `pipeline_end`, `changes`. `encrypt_key=[ALIAS/BUCKET[/PATH]=]KEY` stores its objects encrypted with S3 SSE-C (KEY: 32 ASCII characters or the base64 of 32 bytes, as `mcli --encrypt-key` takes it; the prefix must cover every bucket of the volume). `fscrypt_key=BASE64` (16 to 64 bytes) encrypts it on the cache device with an fscrypt v2 policy; `fscrypt_reset_key` lets a volume encrypted with another key be erased and encrypted anew (docs/cache.md). Keys print as ***.',
      example: 'b2c.volume="job-results,mirror=gateway/job-bucket,pull_on=pipeline_start,push_on=changes,overwrite,preserve,remove,expiration=pipeline_end"',
      differences: 'Unknown hook conditions, a bad expiration, a mirror to an undefined b2c.minio alias or an undefined filesystem are errors before anything runs (b2c warned, or failed at volume set-up), and so are unknown options (a misspelt `expiration=` would otherwise keep a volume forever), `pull_on=` without a bucket to pull from, `push_on=` without one to push to (b2c did nothing) and `pull_on=changes`. `push_on=changes` polls the volume every second instead of watching with inotify. Mirroring details: docs/pipeline.md.',
      stage: 'late',
    },
    parseVolume,
    (plan) => plan.volumes,
  ),
  listParameter(
    {
      name: 'b2c.filesystem',
      aliases: [],
      syntax: 'NAME,src=SOURCE[,type=FSTYPE][,opts=OPT|OPT]',
      doc: 'A named mount (repeatable), usable as cache device, volume backing or additional image store.',
      example: 'b2c.filesystem=shared,src=10.42.0.1:/srv/shared,type=nfs,opts=ro|nolock',
      differences: 'A missing src= or an unknown option is an error before boot.',
      stage: 'late',
    },
    parseFilesystem,
    (plan) => plan.filesystems,
  ),
  listParameter(
    {
      name: 'b2c.minio',
      aliases: [],
      syntax: 'ALIAS,URL,ACCESS_KEY,SECRET_KEY',
      doc: 'An S3 endpoint alias for volume mirroring (repeatable). The keys print as *** everywhere.',
      example: 'b2c.minio="gateway,http://10.42.0.1:9000,ACCESS,SECRET"',
      differences: 'b2c traced the keys to the serial console; ocinit never prints them.',
      stage: 'late',
    },
    parseMinio,
    (plan) => plan.minio,
  ),
  singleParameter(
    {
      name: 'b2c.storage',
      syntax: 'additionalimagestores=FS[|FS...]',
      defaultText: '(none)',
      doc: "Read-only containers-storage overlay stores (podman's layout: overlay-images/images.json, overlay-layers/layers.json and each layer's tar-split, overlay/ID/diff) on b2c.filesystem mounts, mounted read-only and searched in order before pulling. An image found there by reference or image id (12 to 64 hex digits) is used without pulling, whatever --pull says, once its manifest, config and every layer are verified: each layer's tar is rebuilt from its tar-split and the diff tree and unpacked by ocinit while it is hashed against the config's diff_id (the diff tree is never used as it is). A store that is not such a layout, or an image in it that does not verify, stops the job with an error naming the store.",
      example: 'b2c.storage=additionalimagestores=images',
      differences: 'podman used the stores\' diff trees as they were, unverified; ocinit rebuilds and verifies every layer (a copy into RAM or the cache), and refuses a store without tar-split data. vfs and other drivers\' layouts are refused, not ignored. b2c.switch_root does not search the stores.',
      stage: 'late',
    },
    parseStorage,
    (plan, stores) => void (plan.additionalImageStores = stores),
  ),
  listParameter(
    {
      name: 'b2c.nbd',
      aliases: [],
      syntax: 'DEVICE,host=HOST[,port=PORT][,connections=N]',
      doc: "Attach a network block device (repeatable) once the network is up: the server's default export (fixed newstyle NBD, no TLS) at HOST:PORT (10809 by default), over N connections (1 by default). The device is then usable as a b2c.filesystem source (src=/dev/nbd0), as b2c.cache_device (the storage then opens after the network, see docs/cache.md) or as a b2c.swap device. A device that cannot be attached stops the boot before anything runs (status 125); each one is detached at the end of the session.",
      example: 'b2c.nbd=/dev/nbd0,host=10.42.0.1,port=10809',
      stage: 'late',
    },
    parseNbd,
    (plan) => plan.nbd,
  ),
  singleParameter(
    {
      name: 'b2c.image_format',
      syntax: 'tree | erofs',
      defaultText: DEFAULTS.imageFormat,
      doc: "What every container's and b2c.switch_root's image is mounted from. `tree`: its verified, unpacked directory. `erofs`: an EROFS image built from that tree (mkfs.erofs), under a dm-verity hash tree whose salt is the manifest digest, mounted read-only through the kernel's dm-verity, which checks every block it reads: a block that changed since (on the cache disk, in RAM) gives EIO and a `VERITY` error on the console, never other bytes. Each image's root hash is logged and in the summary line; `ocinit verity IMAGE` prints the same one on a host. On a cache disk the image is kept and reused. With --read-only a container then runs from a root nothing can write. See docs/security.md.",
      example: 'b2c.image_format=erofs',
      differences: 'ocinit only.',
      stage: 'early',
    },
    (value, context) => {
      if (value === 'tree' || value === 'erofs') return value;
      context.problem(`'${value}' is not tree or erofs`, 'e.g. b2c.image_format=erofs');
      return undefined;
    },
    (plan, imageFormat) => void (plan.imageFormat = imageFormat),
  ),
  {
    name: 'b2c.debug_crash',
    aliases: [],
    syntax: 'exception | kill',
    defaultText: '(none)',
    doc: "ocinit's own: make the launcher throw (`exception`) or SIGKILL itself (`kill`) right after parsing, to test that a crash still ends with the configured shutdown.",
    example: 'b2c.debug_crash=kill',
    differences: 'Not in boot2container.',
    repeatable: false,
    flag: false,
    stage: 'early',
    apply(plan, value, context) {
      if (value === 'exception' || value === 'kill') plan.debugCrash = value;
      else context.problem(`'${value ?? ''}' is not exception or kill`);
    },
  },
];

const BY_NAME = new Map(PARAMETERS.flatMap((definition) => [definition.name, ...definition.aliases].map((name) => [name, definition] as const)));

export function findParameter(name: string): ParameterDefinition | undefined {
  return BY_NAME.get(name);
}

export function parameterNames(): string[] {
  return [...BY_NAME.keys()];
}
