// The cache device, booted for real on QEMU virtio disks: how each b2c.cache_device value finds,
// erases (or refuses to erase) and mounts a disk, what it leaves on it, swap, and clean unmounts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { boot, type BootResult } from '../../qemu/harness.ts';
import {
  contentAt,
  createBlankImage,
  ext4IsClean,
  formatExt4At,
  listImageDirectory,
  listPartitions,
  partitionImage,
  partitionOffset,
  readImageFile,
  writeImageFile,
} from '../integration/cache/disk-image.ts';

const GIB = 1024 ** 3;
const work = mkdtempSync(join(tmpdir(), 'ocinit-cache-boot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function disk(name: string, bytes = GIB): string {
  const path = join(work, name);
  createBlankImage(path, bytes);
  return path;
}

async function bootWith(disks: string[], append: string[]): Promise<BootResult> {
  const result = await boot({ disks, append: ['b2c.cache_wait=3', ...append], net: { kind: 'none' }, timeoutSeconds: 240 });
  expect(result.kernelPanic).toBe(false);
  expect(result.timedOut).toBe(false);
  expect(result.status).toBe(0);
  return result;
}

describe('b2c.cache_device on QEMU disks', () => {
  it('auto on a blank disk partitions and formats it, says so loudly, and the next boot reuses it untouched', async () => {
    const image = disk('blank.img');
    const first = await bootWith([image], ['b2c.cache_device=auto']);
    expect(first.console).toMatch(/ERASING THE WHOLE DISK \/dev\/vda: no B2C_CACHE partition found; \/dev\/vda \(1\.0 GiB\) is blank/);
    expect(first.console).toContain('cache: /dev/vda1 mounted at /storage');
    expect(first.console).toContain('cache: /dev/vda1 synced and unmounted');

    const partitions = listPartitions(image);
    expect(partitions).toHaveLength(1);
    const offset = partitionOffset(image, 1);
    expect(contentAt(image, offset)).toEqual({ kind: 'ext', label: 'B2C_CACHE' });
    expect(ext4IsClean(image, offset)).toBe(true);
    const metadata = JSON.parse(readImageFile(image, offset, '/ocinit-cache.json') ?? '{}') as Record<string, unknown>;
    expect(metadata).toMatchObject({ format: 'ocinit-cache', version: 1 });
    expect(listImageDirectory(image, offset, '/')).toEqual(expect.arrayContaining(['store', 'volumes', 'images', 'scratch', 'usage', 'clean-shutdown']));

    const marker = join(work, 'marker');
    writeFileSync(marker, 'kept across boots\n');
    writeImageFile(image, offset, marker, '/volumes/marker');
    const second = await bootWith([image], ['b2c.cache_device=auto']);
    expect(second.console).toContain('cache: using /dev/vda1: /dev/vda1 is labelled B2C_CACHE');
    expect(second.console).not.toContain('ERASING');
    expect(second.console).not.toContain('did not shut down cleanly');
    expect(readImageFile(image, offset, '/volumes/marker')).toBe('kept across boots\n');
    expect(ext4IsClean(image, offset)).toBe(true);
  });
});
