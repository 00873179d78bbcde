import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeContent, formatGuid } from '../../../src/system/disk-signatures.ts';

const work = mkdtempSync(join(tmpdir(), 'ocinit-signatures-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The first MiB of an 8 MiB image prepared by `prepare` with the real Debian tools. */
function imageHead(name: string, prepare: (path: string) => void): Buffer {
  const path = join(work, name);
  execFileSync('truncate', ['-s', '8M', path]);
  prepare(path);
  return readFileSync(path).subarray(0, 1024 * 1024);
}

describe('describeContent', () => {
  it('sees a blank device as empty and stray bytes as unknown', () => {
    expect(describeContent(Buffer.alloc(1024 * 1024))).toEqual({ kind: 'empty' });
    const stray = Buffer.alloc(1024 * 1024);
    stray[700_000] = 1;
    expect(describeContent(stray)).toEqual({ kind: 'unknown' });
  });

  it('reads the label of an ext4 filesystem made by mke2fs', () => {
    const head = imageHead('ext4.img', (path) => execFileSync('mke2fs', ['-q', '-t', 'ext4', '-F', '-L', 'B2C_CACHE', path]));
    expect(describeContent(head)).toEqual({ kind: 'ext', label: 'B2C_CACHE' });
  });

  it('reads the label of swap made by mkswap', () => {
    const head = imageHead('swap.img', (path) => execFileSync('mkswap', ['-L', 'fastswap', path], { stdio: 'ignore' }));
    expect(describeContent(head)).toEqual({ kind: 'swap', label: 'fastswap' });
  });

  it('tells a GPT with an EFI system partition (a boot medium) from one without', () => {
    const withEsp = imageHead('esp.img', (path) => execFileSync('sfdisk', ['--quiet', path], { input: 'label: gpt\n,2M,U\n,,L\n' }));
    expect(describeContent(withEsp)).toEqual({ kind: 'gpt', bootable: true });
    const plain = imageHead('plain.img', (path) => execFileSync('sfdisk', ['--quiet', path], { input: 'label: gpt\n,,L\n' }));
    expect(describeContent(plain)).toEqual({ kind: 'gpt', bootable: false });
  });

  it('sees MBR tables and their bootable flag', () => {
    const bootable = imageHead('mbr-boot.img', (path) => execFileSync('sfdisk', ['--quiet', path], { input: 'label: dos\n,,83,*\n' }));
    expect(describeContent(bootable)).toEqual({ kind: 'mbr', bootable: true });
    const plain = imageHead('mbr.img', (path) => execFileSync('sfdisk', ['--quiet', path], { input: 'label: dos\n,,83\n' }));
    expect(describeContent(plain)).toEqual({ kind: 'mbr', bootable: false });
  });

  it('never throws on short or truncated input', () => {
    for (const length of [0, 1, 511, 512, 1100, 4095]) expect(() => describeContent(Buffer.alloc(length, 0xff))).not.toThrow();
    const truncatedGpt = Buffer.alloc(1024);
    truncatedGpt.write('EFI PART', 512, 'latin1');
    truncatedGpt.writeBigUInt64LE(2n ** 62n, 512 + 72);
    truncatedGpt.writeUInt32LE(128, 512 + 80);
    truncatedGpt.writeUInt32LE(128, 512 + 84);
    expect(describeContent(truncatedGpt)).toEqual({ kind: 'gpt', bootable: false });
  });
});

describe('formatGuid', () => {
  it('prints GPT mixed-endian GUIDs as text', () => {
    const bytes = Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex');
    expect(formatGuid(bytes)).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  });
});
