// The root hash measured for b2c.tpm is the one the kernel is given, measured before any device or
// mount exists; a measurement that fails (b2c.tpm=required without a working TPM) stops the mount.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/log/logger.ts';
import { storedVerityImage, type VerityImage } from '../../../src/verity/image.ts';
import { mountVerityRoot } from '../../../src/verity/mount.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-verity-measure-'));
  mkdirSync(join(work, 'tree', 'etc'), { recursive: true });
  writeFileSync(join(work, 'tree', 'etc', 'os-release'), 'ID=test\n');
  mkdirSync(join(work, 'images'));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('measuring a verity root', () => {
  it('hands the measurement the root hash of the image built (then of the one reused), and mounts nothing when it fails', async () => {
    const measured: { image: VerityImage; source: string }[] = [];
    const refused = new Error('b2c.tpm=required, but the TPM failed');
    const context = {
      image: 'registry.lab/app:1',
      log: new Logger({ sink: () => undefined, color: false }),
      clock: () => 0,
      measure: async (image: VerityImage, source: 'built' | 'cache'): Promise<void> => {
        measured.push({ image, source });
        throw refused;
      },
    };
    const dirs = { imagesDir: join(work, 'images'), mountDir: join(work, 'mounts') };
    await expect(mountVerityRoot(join(work, 'tree'), DIGEST, dirs, context)).rejects.toBe(refused);
    await expect(mountVerityRoot(join(work, 'tree'), DIGEST, dirs, context)).rejects.toBe(refused);
    const stored = await storedVerityImage(dirs.imagesDir, DIGEST);
    expect(stored?.rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect(measured.map(({ image, source }) => ({ rootHash: image.rootHash, dataBlocks: image.dataBlocks, source }))).toEqual([
      { rootHash: stored?.rootHash, dataBlocks: stored?.dataBlocks, source: 'built' },
      { rootHash: stored?.rootHash, dataBlocks: stored?.dataBlocks, source: 'cache' },
    ]);
    // No mount point was made: the failure came before the device and the mount.
    expect(readdirSync(work).sort()).toEqual(['images', 'tree']);
  });
});
