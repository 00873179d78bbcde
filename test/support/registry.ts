// Starts Debian's docker-registry (distribution) on 127.0.0.1:<free port> with temporary storage,
// optionally behind htpasswd or bearer-token auth. Usable from tests and from plain scripts.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RegistryOptions {
  /** htpasswd users (bcrypt via `htpasswd -Bbn`): the registry then demands HTTP Basic. */
  users?: Record<string, string>;
  /** Bearer-token auth instead: the registry trusts tokens signed for this issuer (see token-server.ts). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Listen on IPv6 loopback (`[::1]:PORT`) instead of 127.0.0.1. */
  ipv6?: boolean;
  /** Accept manifests whose layers live elsewhere (foreign / non-distributable layers with `urls`). */
  allowForeignUrls?: boolean;
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by a fresh CA (see `caFile`). */
  tls?: boolean;
  /** Pull-through cache mode (distribution's `proxy: remoteurl:`) in front of this registry URL. */
  proxyRemoteUrl?: string;
  /** Record the access log (see `accessLog`). */
  accessLog?: boolean;
  /** Listen on this IPv4 address instead of 127.0.0.1 (with `port`, since a free port cannot be probed there). */
  address?: string;
  /** Run inside this network namespace (`ip netns exec`), e.g. a gateway's. */
  netns?: string;
  /** Listen on this port instead of a free one (to restart a registry where it was). */
  port?: number;
  /** Keep blobs here instead of a fresh directory (a restarted mirror keeps its cache). */
  storageDir?: string;
  binary?: string;
}

/** One line of distribution's access log (combined log format). */
export interface AccessRecord {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

export interface TestRegistry {
  host: string;
  port: number;
  url: string;
  storageDir: string;
  /** With `tls`: the CA bundle that signed the registry's certificate. */
  caFile: string | undefined;
  /** With `accessLog`: every request served so far. */
  accessLog(): AccessRecord[];
  /** Where the registry keeps a blob's bytes (to corrupt it on purpose). */
  blobDataPath(digest: string): string;
  stop(): Promise<void>;
}

export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(address: string, port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${output()}`);
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(port, address, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (listening) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not come up on port ${port}: ${output()}`);
}

/** A CA and a server certificate for 127.0.0.1 / localhost signed by it, made with openssl. */
function makeCertificates(dir: string): { caFile: string; certificate: string; key: string } {
  const file = (name: string): string => join(dir, name);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=ocinit test CA']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(file('san.cnf'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('san.cnf')]);
  return { caFile: file('ca.pem'), certificate: file('server.pem'), key: file('server.key') };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const workDir = mkdtempSync(join(tmpdir(), 'ocinit-registry-'));
  const storageDir = options.storageDir ?? join(workDir, 'storage');
  const address = options.ipv6 === true ? '::1' : (options.address ?? '127.0.0.1');
  const hostPart = options.ipv6 === true ? '[::1]' : address;
  const port = options.port ?? (await freePort(address));
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    `    disabled: ${options.accessLog === true ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: ""',
    'http:',
    `  addr: "${hostPart}:${port}"`,
    '  secret: ocinit-test-secret',
  ];
  const certificates = options.tls === true ? makeCertificates(workDir) : undefined;
  if (certificates !== undefined) lines.push('  tls:', `    certificate: ${certificates.certificate}`, `    key: ${certificates.key}`);
  if (options.proxyRemoteUrl !== undefined) lines.push('proxy:', `  remoteurl: ${options.proxyRemoteUrl}`);
  if (options.allowForeignUrls === true) lines.push('validation:', '  manifests:', '    urls:', '      allow:', "        - '^https?://'");
  if (options.users !== undefined) {
    const htpasswd = Object.entries(options.users)
      .map(([user, password]) => execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim())
      .join('\n');
    writeFileSync(join(workDir, 'htpasswd'), `${htpasswd}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: ocinit-test', `    path: ${join(workDir, 'htpasswd')}`);
  } else if (options.token !== undefined) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${options.token.realm}`,
      `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`,
      `    rootcertbundle: ${options.token.rootCertBundle}`,
    );
  }
  writeFileSync(join(workDir, 'config.yml'), `${lines.join('\n')}\n`);
  const command = [options.binary ?? '/usr/bin/docker-registry', 'serve', join(workDir, 'config.yml')];
  if (options.netns !== undefined) command.unshift('ip', 'netns', 'exec', options.netns);
  const [program = '', ...args] = command;
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const access: AccessRecord[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // 127.0.0.1 - - [date] "GET /v2/x/blobs/sha256:... HTTP/1.1" 200 1234 "" "ocinit"
      const match = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-)/.exec(line);
      if (match !== null) access.push({ method: match[1] ?? '', path: match[2] ?? '', status: Number(match[3]), bytes: match[4] === '-' ? 0 : Number(match[4]) });
      else output = (output + line + '\n').slice(-4000);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const url = `${certificates === undefined ? 'http' : 'https'}://${hostPart}:${port}`;
  try {
    await waitUntilUp(address, port, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: `${hostPart}:${port}`,
    port,
    url,
    storageDir,
    caFile: certificates?.caFile,
    accessLog: () => [...access],
    blobDataPath(digest: string) {
      const [algorithm, hex] = digest.split(':');
      if (algorithm === undefined || hex === undefined) throw new Error(`not a digest: ${digest}`);
      return join(storageDir, 'docker', 'registry', 'v2', 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
