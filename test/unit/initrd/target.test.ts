import { describe, expect, it } from 'vitest';
import { describeTarget, parseArch } from '../../../initrd/target.ts';

describe('parseArch', () => {
  it.each([
    ['x86_64', 'x86_64'],
    ['amd64', 'x86_64'],
    ['arm64', 'arm64'],
    ['AArch64', 'arm64'],
  ] as const)('reads %s as %s', (text, arch) => {
    expect(parseArch(text)).toBe(arch);
  });

  it.each(['riscv64', 'armhf', 'i386', ''])('knows no %s', (text) => {
    expect(parseArch(text)).toBeUndefined();
  });
});

describe('describeTarget', () => {
  it('builds x86_64 from the host itself on this x86_64 build host', () => {
    const target = describeTarget('x86_64');
    expect(target.sysroot).toBe('/');
    expect(target.emulator).toEqual([]);
    expect(target.strip).toBe('strip');
    expect(target.libraryDirs.slice(0, 2)).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu']);
  });

  it('builds arm64 from a sysroot, running its programs under qemu-user with that sysroot', () => {
    const target = describeTarget('arm64', '/tmp/sysroot');
    expect(target.sysroot).toBe('/tmp/sysroot');
    expect(target.emulator).toEqual(['qemu-aarch64-static', '-L', '/tmp/sysroot']);
    expect(target.strip).toBe('aarch64-linux-gnu-strip');
    expect(target.libraryDirs).toEqual(['/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib', '/usr/lib']);
    expect(target.modules).toContain('virtio_mmio');
  });

  it('refuses another architecture without a sysroot rather than take the host programs', () => {
    expect(() => describeTarget('arm64')).toThrow(/needs a sysroot/);
    expect(() => describeTarget('arm64', '/')).toThrow(/needs a sysroot/);
  });
});
