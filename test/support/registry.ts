// Starts Debian's docker-registry (distribution) on 127.0.0.1:<free port> with temporary storage,
// optionally behind htpasswd or bearer-token auth. Usable from tests and from plain scripts.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RegistryOptions {
  /** htpasswd users (bcrypt via `htpasswd -Bbn`): the registry then demands HTTP Basic. */
  users?: Record<string, string>;
  /** Bearer-token auth instead: the registry trusts tokens signed for this issuer (see token-server.ts). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  binary?: string;
}

export interface TestRegistry {
  host: string;
  port: number;
  url: string;
  storageDir: string;
  /** Where the registry keeps a blob's bytes (to corrupt it on purpose). */
  blobDataPath(digest: string): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${output()}`);
    try {
      const response = await fetch(`${url}/v2/`);
      if (response.status === 200 || response.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not come up at ${url}: ${output()}`);
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const workDir = mkdtempSync(join(tmpdir(), 'ocinit-registry-'));
  const storageDir = join(workDir, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: ""',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: ocinit-test-secret',
  ];
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
  const child = spawn(options.binary ?? '/usr/bin/docker-registry', ['serve', join(workDir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(url, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    url,
    storageDir,
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
