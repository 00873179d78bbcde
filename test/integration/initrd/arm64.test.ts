// The arm64 build (make initrd ARCH=arm64 made its sysroot and Node): two builds from the same
// inputs give the same bytes, the V8 snapshot made under qemu-user included; and a build for arm64
// without a sysroot is refused instead of taking the host's x86_64 programs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../qemu/harness.ts';
import { buildDir } from '../../../initrd/target.ts';

const arm64 = join(REPO_ROOT, buildDir('arm64'));
const modulesRoot = join(arm64, 'kernel/modules');
const work = mkdtempSync(join(tmpdir(), 'ocinit-arm64-build-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function build(name: string, targetOptions: string[]): { status: number | null; stderr: string; stdout: string; out: string } {
  const version = readdirSync(modulesRoot)[0] ?? '';
  const out = join(work, name, 'initrd.cpio');
  const result = spawnSync(process.execPath, ['initrd/build.ts', '--modules', join(modulesRoot, version), '--out', out, '--compress', 'none', '--drivers', 'qemu', ...targetOptions], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout, out };
}

const digest = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const arm64Options = ['--arch', 'arm64', '--sysroot', join(arm64, 'sysroot'), '--node', join(arm64, 'node/bin/node')];

describe('arm64 initramfs build', () => {
  it('is byte-for-byte reproducible, its arm64 startup snapshot too', () => {
    const first = build('one', arm64Options);
    const second = build('two', arm64Options);
    expect(first.stderr).not.toMatch(/initrd: (?!warning)/);
    expect(first.status).toBe(0);
    expect(second.status).toBe(0);
    expect(first.stdout).toMatch(/kernel \S+-arm64, \d+ modules/);
    expect(digest(join(work, 'two', 'init.snapshot'))).toBe(digest(join(work, 'one', 'init.snapshot')));
    expect(digest(second.out)).toBe(digest(first.out));
  }, 600_000);

  it('refuses arm64 without a sysroot rather than take the host programs', () => {
    const result = build('refused', ['--arch', 'arm64']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/building for arm64 on this x86_64 host needs a sysroot of arm64 packages \(make initrd ARCH=arm64 makes one\)/);
  });
});
