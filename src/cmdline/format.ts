import { containerLabel, emptyContainerSpec } from './container.ts';
import { describeProxy } from '../net/proxy-config.ts';
import { createDefaultPlan } from './parameters.ts';
import type { ContainerSpec, IpConfig, MirrorTarget, Plan, Problem, VolumeSpec } from './plan.ts';

/** `b2c.container (token 3): message` then `  hint: ...`: one problem as an operator reads it. */
export function formatProblem(problem: Problem): string {
  const where = problem.position < 0 ? '' : ` (${problem.origin === 'extra_args' ? 'extra arguments, ' : ''}token ${problem.position})`;
  const lines = [`${problem.parameter}${where}: ${problem.message}`];
  if (problem.hint !== undefined) lines.push(`  hint: ${problem.hint}`);
  return lines.join('\n');
}

// The container fields every container has: shown in the header line rather than as settings.
const CONTAINER_HEADER_FIELDS = new Set(['parameter', 'index', 'source', 'image', 'command']);
// What a container has when no flag changed it, to show only what the line changed.
const DEFAULT_CONTAINER = new Map(Object.entries(emptyContainerSpec('b2c.container', 0, '')));

function show(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}

function describeContainer(spec: ContainerSpec): string[] {
  const command = spec.command.length === 0 ? '(image default command)' : spec.command.map((word) => show(word)).join(' ');
  const lines = [`${containerLabel(spec)}: ${spec.image}`, `    command: ${command}`];
  for (const [field, value] of Object.entries(spec)) {
    if (CONTAINER_HEADER_FIELDS.has(field)) continue;
    const shown = show(value);
    if (shown !== show(DEFAULT_CONTAINER.get(field))) lines.push(`    ${field}: ${shown}`);
  }
  return lines;
}

function describeMirror(target: MirrorTarget | undefined): string {
  return target === undefined ? '-' : `${target.alias}/${target.bucket}${target.path === '' ? '' : `/${target.path}`}`;
}

function describeVolume(volume: VolumeSpec): string {
  const parts = [`${volume.name}: expiration ${volume.expiration}`];
  if (volume.filesystem !== undefined) parts.push(`on filesystem ${volume.filesystem}`);
  if (volume.pullFrom !== undefined || volume.pushTo !== undefined) {
    parts.push(`pull from ${describeMirror(volume.pullFrom)} on ${volume.pullOn.join('|') || '-'}`);
    parts.push(`push to ${describeMirror(volume.pushTo)} on ${volume.pushOn.join('|') || '-'}`);
  }
  const flags = (['overwrite', 'remove', 'preserve', 'fscryptResetKey'] as const).filter((flag) => volume[flag]);
  if (flags.length > 0) parts.push(flags.join(' '));
  if (volume.exclude.length > 0) parts.push(`exclude ${volume.exclude.join(' ')}`);
  if (volume.encryptKey !== undefined) parts.push(`encrypt_key ${String(volume.encryptKey)}`);
  if (volume.fscryptKey !== undefined) parts.push(`fscrypt_key ${String(volume.fscryptKey)}`);
  return parts.join(', ');
}

function describeIp(ip: IpConfig): string {
  if (ip.kind === 'off') return 'ip=off: no automatic configuration';
  if (ip.kind === 'dhcp') return `ip= DHCP on ${ip.device ?? 'the first interface that answers'}`;
  const extras = [ip.gateway && `gateway ${ip.gateway}`, ip.hostname && `hostname ${ip.hostname}`, ip.nameservers.length > 0 && `dns ${ip.nameservers.join(' ')}`];
  return `ip= static ${ip.client}/${ip.netmask} on ${ip.device ?? 'the first interface'}${extras.filter(Boolean).map((extra) => `, ${String(extra)}`).join('')}`;
}

function describeNetwork(plan: Plan): string[] {
  if (plan.interfaces.length > 0) {
    return plan.interfaces.map((iface) => {
      const parts = [iface.mode === 'dhcp' ? 'DHCP' : 'static', ...iface.addresses];
      if (iface.gateway !== undefined) parts.push(`gateway ${iface.gateway}`);
      if (iface.nameservers.length > 0) parts.push(`dns ${iface.nameservers.join(' ')}`);
      for (const route of iface.routes) parts.push(`route ${route.destination} via ${route.via}`);
      if (iface.forward) parts.push('forwarding');
      return `  ${iface.name}: ${parts.join(', ')}`;
    });
  }
  if (plan.ip !== undefined) return [`  ${describeIp(plan.ip)}`];
  return ['  DHCP on every eth*/en* interface'];
}

function section(title: string, lines: string[]): string[] {
  return lines.length === 0 ? [] : [`${title}:`, ...lines.map((line) => `  ${line}`)];
}

/** The plan as an operator reads it: what the boot will do, in order, with secrets as ***. */
export function formatPlan(plan: Plan): string {
  const defaults = createDefaultPlan();
  const cache = plan.cacheDevice;
  const cacheText = cache.kind === 'device' ? cache.path : cache.kind === 'filesystem' ? `filesystem ${cache.name}` : cache.kind;
  const swap = plan.swap === undefined ? 'none' : 'device' in plan.swap ? plan.swap.device : `${plan.swap.size} bytes${plan.swap.swappiness === undefined ? '' : `, swappiness ${plan.swap.swappiness}`}`;
  const ntp = plan.ntpPeer.kind === 'host' ? plan.ntpPeer.host : plan.ntpPeer.kind;
  const lines = [
    `Modules: ${plan.modules.length === 0 ? 'none' : plan.modules.join(', ')}`,
    `Cache device: ${cacheText}; swap: ${swap}`,
    ...(plan.nbd.length === 0 ? [] : [`NBD: ${plan.nbd.map((nbd) => `${nbd.device} from ${nbd.host}:${nbd.port ?? 10809}`).join(', ')}`]),
    'Network:',
    ...describeNetwork(plan),
    `NTP peer: ${ntp}`,
    `Extra arguments URL: ${plan.extraArgsUrl ?? 'none'}`,
    `Hostname: ${plan.hostname}; keymap: ${plan.keymap ?? 'default'}; proxy: ${describeProxy(plan.proxy)}`,
    ...section('Filesystems', plan.filesystems.map((fs) => `${fs.name}: ${fs.source}${fs.type === undefined ? '' : ` (${fs.type})`}${fs.options.length === 0 ? '' : ` opts ${fs.options.join(',')}`}`)),
    ...section('MinIO aliases', plan.minio.map((alias) => `${alias.alias}: ${alias.url} (keys ${String(alias.accessKey)})`)),
    ...(plan.additionalImageStores.length === 0 ? [] : [`Additional image stores: ${plan.additionalImageStores.join(', ')}`]),
    `Signatures: ${plan.signatures === 'required' ? 'required (the built-in policy, and nothing accepted unsigned)' : 'as the built-in policy says'}; TPM: ${plan.tpm === 'off' ? 'off' : `${plan.tpm === 'required' ? 'required' : 'when present'}, PCR ${plan.tpmPcr}`}`,
    ...section('Volumes', plan.volumes.map(describeVolume)),
    ...section('Services', plan.services.flatMap(describeContainer)),
    ...section(`Containers${plan.pipefail ? ' (pipefail: stop at the first failure)' : ''}`, plan.containers.flatMap(describeContainer)),
    ...section('Post containers', plan.postContainers.flatMap(describeContainer)),
    ...(plan.containers.length + plan.postContainers.length === 0 ? ['Nothing to run: no b2c.container nor b2c.post_container.'] : []),
    `Shutdown: ${plan.shutdown.shutdownCommand} after ${plan.shutdown.poweroffDelaySeconds} s; reboot: ${plan.shutdown.rebootCommand}`,
    ...(plan.debugCrash === defaults.debugCrash ? [] : [`Debug: crash by ${plan.debugCrash ?? ''} after parsing`]),
  ];
  return lines.join('\n');
}
