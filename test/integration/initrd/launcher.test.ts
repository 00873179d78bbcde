// The launcher and its startup snapshot, on the host: the snapshot is made reproducibly and starts
// the launcher, and the launcher refuses to run anywhere but under the initramfs's /init.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildStartupSnapshot } from '../../../initrd/snapshot.ts';
import { REPO_ROOT } from '../../../qemu/harness.ts';
import { SNAPSHOT_BUILTINS } from '../../../src/boot/snapshot-builtins.ts';

const node = realpathSync(join(REPO_ROOT, 'node_modules/.bin/node'));
const work = mkdtempSync(join(tmpdir(), 'ocinit-launcher-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// Outside the repository, as /init.js in the initramfs: no package.json says "type": "module" there.
const launcher = join(work, 'init.js');
copyFileSync(join(REPO_ROOT, 'dist/init.js'), launcher);

const REFUSAL = /this is the boot launcher, started by the initramfs \/init only/;

/** Runs Node in its own mount and UTS namespaces: were the guard broken, the host would not suffer. */
function confinedNode(args: string[]): SpawnSyncReturns<string> {
  return spawnSync('unshare', ['--user', '--map-root-user', '--mount', '--uts', '--propagation', 'private', node, ...args], { encoding: 'utf8' });
}

describe('launcher', () => {
  it('run on a host, refuses to start (exit 64) before touching anything', () => {
    const result = confinedNode([launcher]);
    expect(result.stderr).toMatch(REFUSAL);
    expect(result.status).toBe(64);
    expect(result.stdout).not.toContain('launcher started');
  });

  it('has a startup snapshot that is the same bytes every build and starts the launcher', () => {
    const first = join(work, 'first.snapshot');
    const second = join(work, 'second.snapshot');
    buildStartupSnapshot(node, launcher, first);
    buildStartupSnapshot(node, launcher, second);
    expect(readFileSync(first).equals(readFileSync(second))).toBe(true);
    const result = confinedNode(['--snapshot-blob', first]);
    expect(result.stderr).toMatch(REFUSAL);
    expect(result.status).toBe(64);
  });

  it("holds no built-in that keeps the build host's uname: started under another kernel release, the snapshot reports that one", () => {
    // qemu-user's -r sets the release uname() returns; node:os read at snapshot time would keep the host's.
    const script = join(work, 'builtins.js');
    writeFileSync(
      script,
      `for (const id of ${JSON.stringify(SNAPSHOT_BUILTINS)}) process.getBuiltinModule(id);\n` +
        "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => process.stdout.write(require('node:os').release()));\n",
    );
    const snapshot = join(work, 'builtins.snapshot');
    buildStartupSnapshot(node, script, snapshot);
    const emulator = `qemu-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-static`;
    const result = spawnSync(emulator, ['-r', '9.9.9-not-the-build-host', node, '--snapshot-blob', snapshot], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('9.9.9-not-the-build-host');
  });

  it('reports a snapshot build failure with Node\'s own message', () => {
    const broken = join(work, 'broken.js');
    spawnSync('sh', ['-c', `echo 'throw new Error("snapshot script failed on purpose")' > ${broken}`]);
    expect(() => buildStartupSnapshot(node, broken, join(work, 'broken.snapshot'))).toThrow(/startup snapshot failed .*snapshot script failed on purpose/s);
  });
});
