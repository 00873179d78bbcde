// Writes a V8 startup snapshot of the launcher (`node --build-snapshot`), made by the very Node
// binary that ships: booted with `node --snapshot-blob`, Node deserialises the launcher's modules
// already compiled and evaluated instead of compiling 1.2 MB of JavaScript under a cold CPU.
//
// A snapshot records more of its maker than the script: V8's random seeds, the process ID and the
// script's absolute path end up in the heap. So that the same inputs give the same bytes, Node runs
// with --predictable (fixed seeds; the booted Node draws fresh ones and rehashes), as PID 1 of a
// new PID namespace, on a private tmpfs mounted at the same place on every machine. The namespaces
// are a user namespace's, so this needs no root. Another architecture's Node runs under qemu-user
// (`emulator`), which needs no binfmt registration.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** Where the snapshot is made, inside the private mount namespace. */
const WORK_DIR = '/mnt';

const BUILD_SCRIPT = [
  'set -e',
  // Open the inputs before the tmpfs hides them, should they live under the work directory.
  'exec 3<"$1" 4<"$2"',
  `mount -t tmpfs -o mode=0700 ocinit-snapshot ${WORK_DIR}`,
  `cd ${WORK_DIR}`,
  'cat <&3 >node',
  'cat <&4 >init.js',
  'chmod 0700 node',
  'shift 2',
  '"$@" ./node --predictable --snapshot-blob init.snapshot --build-snapshot init.js >&2',
  'cat init.snapshot',
].join('\n');

/**
 * Builds the snapshot of `script` with `node` (run through `emulator`, an argv prefix, when it is
 * another architecture's) into `out`; throws with Node's own message on failure.
 */
export function buildStartupSnapshot(node: string, script: string, out: string, emulator: readonly string[] = []): void {
  const fd = openSync(out, 'w');
  try {
    const result = spawnSync(
      'unshare',
      ['--user', '--map-root-user', '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', 'sh', '-c', BUILD_SCRIPT, 'sh', node, script, ...emulator],
      { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' },
    );
    if (result.error) throw new Error(`cannot run unshare (util-linux): ${result.error.message}`);
    if (result.status !== 0) throw new Error(`building the launcher's startup snapshot failed (exit ${result.status ?? result.signal}): ${result.stderr.trim()}`);
  } finally {
    closeSync(fd);
  }
}
