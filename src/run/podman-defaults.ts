// What podman puts into every container that jobs notice, so that a job written against
// boot2container (podman in the initramfs) sees the same things under ocinit. Each rule below was
// read off `podman run --privileged --network=host` (podman 4.3.1, Debian 12) on the same image;
// test/integration/run/podman-environment.test.ts compares the two side by side.
import type { EnvEntry } from '../cmdline/plan.ts';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where podman binds the file that tells systemd and scripts they run in a container. */
export const CONTAINERENV_PATH = '/run/.containerenv';

/**
 * podman's defaults, lowest precedence: the image's `Env` overrides every one of them (even
 * `container` and `HOME`), `--env-file` and `-e` override the image. podman sets `TERM=xterm`
 * with and without `-t`.
 */
export function podmanEnvironment(hostname: string, home: string): EnvEntry[] {
  return [
    { name: 'TERM', value: 'xterm' },
    { name: 'container', value: 'podman' },
    { name: 'PATH', value: DEFAULT_PATH },
    { name: 'HOME', value: home },
    { name: 'HOSTNAME', value: hostname },
  ];
}

export interface ContainerIdentity {
  privileged: boolean;
  /** Written as `engine=`: podman writes its own name and version, ocinit its own. */
  engine: string;
  name: string;
  id: string;
  /** The normalised reference (`docker.io/library/alpine:latest`). */
  image: string;
  /** The image id: the config digest's hex. */
  imageId: string;
}

/** `/run/.containerenv`: empty for an unprivileged container, the container's identity for a privileged one. */
export function containerEnvText(identity: ContainerIdentity): string {
  if (!identity.privileged) return '';
  const quoted = (value: string): string => JSON.stringify(value);
  return [
    `engine=${quoted(identity.engine)}`,
    `name=${quoted(identity.name)}`,
    `id=${quoted(identity.id)}`,
    `image=${quoted(identity.image)}`,
    `imageid=${quoted(identity.imageId)}`,
    'rootless=0',
    '',
  ].join('\n');
}

/** podman writes the bare name, without a newline. */
export function hostnameText(hostname: string): string {
  return hostname;
}

interface HostsEntry {
  address: string;
  names: string[];
}

function parseHosts(text: string): HostsEntry[] {
  return text.split('\n').flatMap((line) => {
    const [address, ...names] = (line.split('#', 1)[0] ?? '').trim().split(/\s+/);
    return address === undefined || address === '' || names.length === 0 ? [] : [{ address, names }];
  });
}

export interface HostsInput {
  /** The launcher's /etc/hosts ('' when it has none). */
  base: string;
  hostname: string;
  /** The container's name, after its hostname on the same line (podman's). */
  name: string;
  /** The machine's address for `host.containers.internal`, when it has one. */
  hostAddress: string | undefined;
}

/**
 * podman's /etc/hosts: the launcher's entries (comments and blank lines dropped, `ADDRESS<TAB>NAMES`),
 * `localhost` on 127.0.0.1 and ::1 when no entry names it, `host.containers.internal`, then the container's
 * hostname and name on 127.0.0.1. podman adds that last line only for containers with a network of
 * their own and relies on the host's file naming the host otherwise; the initramfs' file does not, so
 * ocinit adds it for every container and the hostname always resolves.
 */
export function hostsText(input: HostsInput): string {
  const entries = parseHosts(input.base);
  if (!entries.some((entry) => entry.names.includes('localhost'))) entries.push({ address: '127.0.0.1', names: ['localhost'] }, { address: '::1', names: ['localhost'] });
  if (input.hostAddress !== undefined) entries.push({ address: input.hostAddress, names: ['host.containers.internal'] });
  entries.push({ address: '127.0.0.1', names: input.hostname === input.name ? [input.hostname] : [input.hostname, input.name] });
  return entries.map((entry) => `${entry.address}\t${entry.names.join(' ')}\n`).join('');
}

/** podman's --dns: the servers replace the launcher's `nameserver` lines; its `search` and `options` stay. */
export function resolvConfWithServers(base: string, servers: readonly string[]): string {
  if (servers.length === 0) return base;
  const kept = base.split('\n').filter((line) => line.trim() !== '' && !/^\s*nameserver\s/.test(line));
  const lines = [...kept.filter((line) => /^\s*(search|domain)\s/.test(line)), ...servers.map((server) => `nameserver ${server}`), ...kept.filter((line) => /^\s*options\s/.test(line))];
  return `${lines.join('\n')}\n`;
}

interface InterfaceAddress {
  address: string;
  family: string;
  internal: boolean;
}

/** `host.containers.internal` with the host network: the machine's first global IPv4 address, else IPv6. */
export function hostContainersAddress(interfaces: Readonly<Record<string, readonly InterfaceAddress[] | undefined>>): string | undefined {
  const addresses = Object.values(interfaces).flatMap((list) => list ?? []).filter((item) => !item.internal);
  const ipv4 = addresses.find((item) => item.family === 'IPv4');
  const ipv6 = addresses.find((item) => item.family === 'IPv6' && !/^fe[89ab]/i.test(item.address));
  return (ipv4 ?? ipv6)?.address;
}
