// Two builds from the same inputs must give the same bytes: a farm can then check that the
// initramfs it boots is the one a given commit produces.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../qemu/harness.ts';

const modulesRoot = join(REPO_ROOT, 'build/kernel/modules');
const work = mkdtempSync(join(tmpdir(), 'ocinit-repro-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function build(name: string): { digest: string; report: string } {
  const version = readdirSync(modulesRoot)[0] ?? '';
  const out = join(work, name, 'initrd.cpio.zst');
  const result = spawnSync(process.execPath, ['initrd/build.ts', '--modules', join(modulesRoot, version), '--out', out], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
  expect(result.stderr).not.toMatch(/initrd: (?!warning)/);
  expect(result.status).toBe(0);
  return { digest: createHash('sha256').update(readFileSync(out)).digest('hex'), report: result.stdout };
}

describe('initramfs build', () => {
  it('is byte-for-byte reproducible and reports its sizes', () => {
    const first = build('one');
    const second = build('two');
    expect(first.report).toMatch(/MiB uncompressed, \d+\.\d MiB compressed \(zstd\)/);
    expect(second.digest).toBe(first.digest);
  }, 600_000);
});
