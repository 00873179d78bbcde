// make's ARCH: x86_64 and arm64 (with their Debian aliases) pick the build directory; anything
// else stops make before it does anything, naming what it builds.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../qemu/harness.ts';

/** The environment without what an outer `make check` hands its children (MAKELEVEL makes make print "Entering directory"). */
function outsideMake(): NodeJS.ProcessEnv {
  const { MAKEFLAGS: _flags, MFLAGS: _mflags, MAKELEVEL: _level, MAKEOVERRIDES: _overrides, ...env } = process.env;
  return env;
}

function dryRun(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // -n: print the commands without running them; -W: as if the launcher changed, so the initramfs line shows.
  const result = spawnSync('make', ['-n', '-W', 'dist/init.js', 'build/.debian-deps', ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: outsideMake() });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('make ARCH=', () => {
  it.each(['riscv64', 'armhf', 'i386'])('refuses ARCH=%s', (arch) => {
    const result = dryRun('initrd', `ARCH=${arch}`);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`ARCH=${arch}: this Makefile builds ARCH=x86_64 (amd64) or ARCH=arm64 (aarch64)`);
    expect(result.stdout).toBe('');
  });

  it.each(['arm64', 'aarch64'])('builds ARCH=%s into build/arm64 from the arm64 sysroot and Node', (arch) => {
    const result = dryRun('initrd', `ARCH=${arch}`);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/initrd\/build\.ts .*--out build\/arm64\/initrd\.cpio\.zst .*--arch arm64 --sysroot build\/arm64\/sysroot --node build\/arm64\/node\/bin\/node/);
  });

  it.each([[], ['ARCH=x86_64'], ['ARCH=amd64']])('builds x86_64 into build/ with %j', (...args) => {
    const result = dryRun('initrd', ...args);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/initrd\/build\.ts .*--out build\/initrd\.cpio\.zst /);
    expect(result.stdout).not.toContain('--arch');
  });
});
