// make initrd FIRMWARE=DIR: the tree lands at /lib/firmware, where the kernel's direct loader
// looks; a firmware directory that does not exist stops the build before any work.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../qemu/harness.ts';

const modulesRoot = join(REPO_ROOT, 'build/kernel/modules');
const work = mkdtempSync(join(tmpdir(), 'ocinit-firmware-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// One archive (--runtime-image none), so that `cpio -t` lists it all: with the runtime image, the
// file is two archives in a row and cpio stops after the first.
function build(firmware: string): { status: number | null; stderr: string; out: string } {
  const version = readdirSync(modulesRoot)[0] ?? '';
  const out = join(work, 'out', 'initrd.cpio');
  const result = spawnSync(
    process.execPath,
    ['initrd/build.ts', '--modules', join(modulesRoot, version), '--out', out, '--compress', 'none', '--drivers', 'qemu', '--runtime-image', 'none', '--firmware', firmware],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  return { status: result.status, stderr: result.stderr, out };
}

describe('initramfs firmware', () => {
  it('puts the FIRMWARE tree at /lib/firmware', () => {
    const firmware = join(work, 'firmware');
    mkdirSync(join(firmware, 'e100'), { recursive: true });
    writeFileSync(join(firmware, 'e100/d102e_ucode.bin'), Buffer.alloc(64, 1));
    const built = build(firmware);
    expect(built.stderr).not.toMatch(/initrd: (?!warning)/);
    expect(built.status).toBe(0);
    const listing = spawnSync('cpio', ['-t', '--quiet', '-F', built.out], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n');
    expect(listing).toContain('lib/firmware');
    expect(listing).toContain('lib/firmware/e100/d102e_ucode.bin');
  }, 300_000);

  it('refuses a firmware directory that does not exist, naming it', () => {
    const built = build(join(work, 'no-such-dir'));
    expect(built.status).toBe(1);
    expect(built.stderr).toContain(`initrd: --firmware ${join(work, 'no-such-dir')} is not a directory`);
  });
});
