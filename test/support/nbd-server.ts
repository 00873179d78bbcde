// Debian's nbd-server in the foreground on 127.0.0.1:<free port>, serving one image file as the
// default export (what `nbd-client HOST PORT DEVICE` asks for). QEMU's user network shows it to
// the guest at 10.0.2.2:PORT.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './registry.ts';

export interface TestNbdServer {
  port: number;
  stop(): Promise<void>;
}

async function waitForListener(port: number, deadline: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(true));
      socket.on('error', () => resolve(false));
      socket.on('connect', () => socket.destroy());
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nbd-server did not listen on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether process `pid` still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * nbd-server runs as a daemon: its foreground mode (-d) serves a single client and exits. The
 * daemon forks one child per client; SIGTERM to the daemon ends them too.
 */
export async function startNbdServer(image: string): Promise<TestNbdServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ocinit-nbd-'));
  // An empty [generic] section: no system-wide /etc/nbd-server/config, and no privilege drop.
  const config = join(dir, 'config');
  const pidFile = join(dir, 'pid');
  writeFileSync(config, '[generic]\n');
  execFileSync('nbd-server', [`127.0.0.1:${port}`, image, '-C', config, '-p', pidFile], { stdio: 'ignore' });
  const pid = await waitFor(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined));
  await waitForListener(port, Date.now() + 10_000);
  return {
    port,
    async stop() {
      process.kill(pid, 'SIGTERM');
      await waitFor(() => (alive(pid) ? undefined : true));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitFor<T>(check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('nbd-server: timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
