// Running the pipeline on the host: crun in a private mount namespace that sees a pure cgroup2
// hierarchy (crun refuses this machine's hybrid v1/v2 layout), state on a tmpfs (overlayfs wants
// an upper directory that supports it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../../src/log/logger.ts';

export const CRUN_PREFIX = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"', 'crun-in-namespace'];

export interface HostState {
  dir: string;
  remove(): void;
}

export function tmpfsState(): HostState {
  const dir = mkdtempSync(join(tmpdir(), 'ocinit-run-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', dir]);
  return {
    dir,
    remove() {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function capturingLogger(): { log: Logger; text: () => string } {
  let output = '';
  return { log: new Logger({ sink: (text) => (output += text), color: false, clock: () => performance.now() / 1000 }), text: () => output };
}
