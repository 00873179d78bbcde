import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReadelf, resolveInSysroot, sharedLibraries, type ElfLinkInfo } from '../../../initrd/libraries.ts';

const READELF_NODE = `
ELF Header:
  Class:                             ELF64
  Machine:                           AArch64

Program Headers:
  Type           Offset   VirtAddr           PhysAddr           FileSiz  MemSiz   Flg Align
  INTERP         0x000238 0x0000000000000238 0x0000000000000238 0x00001b 0x00001b R   0x1
      [Requesting program interpreter: /lib/ld-linux-aarch64.so.1]

Dynamic section at offset 0x7525d68 contains 38 entries:
  Tag        Type                         Name/Value
 0x0000000000000001 (NEEDED)             Shared library: [libstdc++.so.6]
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
 0x000000000000001d (RUNPATH)            Library runpath: [/opt/lib:$ORIGIN/../lib]
`;

describe('parseReadelf', () => {
  it('reads the loader, the needed sonames in order and the runpath', () => {
    expect(parseReadelf(READELF_NODE)).toEqual({ machine: 'AArch64', interpreter: '/lib/ld-linux-aarch64.so.1', needed: ['libstdc++.so.6', 'libc.so.6'], runpath: ['/opt/lib', '$ORIGIN/../lib'] });
  });

  it('finds neither loader nor library in a static executable', () => {
    expect(parseReadelf('  Machine:                           Advanced Micro Devices X86-64\n\nThere is no dynamic section in this file.\n')).toEqual({ machine: 'Advanced Micro Devices X86-64', interpreter: undefined, needed: [], runpath: [] });
  });
});

describe('in a sysroot', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ocinit-sysroot-'));
    mkdirSync(join(root, 'usr/lib/aarch64-linux-gnu'), { recursive: true });
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    // Merged /usr with an absolute link, which must resolve inside the sysroot, not on the host.
    symlinkSync('/usr/lib', join(root, 'lib'));
    for (const name of ['ld-linux-aarch64.so.1', 'libc.so.6', 'libstdc++.so.6.0.30', 'libgcc_s.so.1', 'libm.so.6']) writeFileSync(join(root, 'usr/lib/aarch64-linux-gnu', name), name);
    symlinkSync('aarch64-linux-gnu/ld-linux-aarch64.so.1', join(root, 'usr/lib/ld-linux-aarch64.so.1'));
    symlinkSync('libstdc++.so.6.0.30', join(root, 'usr/lib/aarch64-linux-gnu/libstdc++.so.6'));
    symlinkSync('../../../../../../etc/passwd', join(root, 'usr/lib/escape'));
    writeFileSync(join(root, 'usr/bin/node'), 'node');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('follows absolute and relative links inside the sysroot', () => {
    expect(resolveInSysroot(root, '/lib/ld-linux-aarch64.so.1')).toBe(join(root, 'usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1'));
    expect(resolveInSysroot(root, '/lib/aarch64-linux-gnu/libstdc++.so.6')).toBe(join(root, 'usr/lib/aarch64-linux-gnu/libstdc++.so.6.0.30'));
  });

  it('never climbs out of the sysroot with ..', () => {
    expect(resolveInSysroot(root, '/usr/lib/escape')).toBeUndefined();
  });

  it('answers nothing for a missing file', () => {
    expect(resolveInSysroot(root, '/lib/aarch64-linux-gnu/libnope.so.1')).toBeUndefined();
  });

  const dirs = ['/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib', '/usr/lib'];
  const elf = (links: Record<string, Partial<ElfLinkInfo>>) => (file: string): ElfLinkInfo => ({ machine: "AArch64", interpreter: undefined, needed: [], runpath: [], ...links[file.slice(root.length)] });

  it('gathers the loader and the needed libraries transitively, once each, at their sysroot paths', () => {
    const readElf = elf({
      '/usr/bin/node': { interpreter: '/lib/ld-linux-aarch64.so.1', needed: ['libstdc++.so.6', 'libc.so.6'] },
      '/usr/lib/aarch64-linux-gnu/libstdc++.so.6.0.30': { needed: ['libm.so.6', 'libgcc_s.so.1', 'libc.so.6'] },
      '/usr/lib/aarch64-linux-gnu/libc.so.6': { needed: ['ld-linux-aarch64.so.1'] },
    });
    expect(sharedLibraries(join(root, 'usr/bin/node'), root, dirs, "AArch64", readElf)).toEqual([
      { path: '/lib/ld-linux-aarch64.so.1', file: join(root, 'usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1') },
      { path: '/lib/aarch64-linux-gnu/libstdc++.so.6', file: join(root, 'usr/lib/aarch64-linux-gnu/libstdc++.so.6.0.30') },
      { path: '/lib/aarch64-linux-gnu/libm.so.6', file: join(root, 'usr/lib/aarch64-linux-gnu/libm.so.6') },
      { path: '/lib/aarch64-linux-gnu/libgcc_s.so.1', file: join(root, 'usr/lib/aarch64-linux-gnu/libgcc_s.so.1') },
      { path: '/lib/aarch64-linux-gnu/libc.so.6', file: join(root, 'usr/lib/aarch64-linux-gnu/libc.so.6') },
    ]);
  });

  it('gives nothing for a static executable', () => {
    expect(sharedLibraries(join(root, 'usr/bin/node'), root, dirs, "AArch64", elf({}))).toEqual([]);
  });

  it('names the missing soname and who needs it', () => {
    const readElf = elf({ '/usr/bin/node': { needed: ['libyajl.so.2'] } });
    expect(() => sharedLibraries(join(root, 'usr/bin/node'), root, dirs, "AArch64", readElf)).toThrow(/usr\/bin\/node needs libyajl\.so\.2, found in none of .* add the Debian package that ships it/);
  });

  it("names a library built for another machine than the target's", () => {
    const readElf = (file: string): ElfLinkInfo => ({ machine: file.endsWith('libc.so.6') ? 'Advanced Micro Devices X86-64' : 'AArch64', interpreter: undefined, needed: file.endsWith('node') ? ['libc.so.6'] : [], runpath: [] });
    expect(() => sharedLibraries(join(root, 'usr/bin/node'), root, dirs, 'AArch64', readElf)).toThrow(/libc\.so\.6 .* is built for Advanced Micro Devices X86-64, not AArch64/);
  });

  it('names a missing loader', () => {
    const readElf = elf({ '/usr/bin/node': { interpreter: '/lib64/ld-linux-x86-64.so.2' } });
    expect(() => sharedLibraries(join(root, 'usr/bin/node'), root, dirs, "AArch64", readElf)).toThrow(/wants the loader \/lib64\/ld-linux-x86-64\.so\.2/);
  });
});
