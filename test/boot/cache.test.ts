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
import { bootAndCutPower as cutPower } from '../integration/cache/power-cut.ts';

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
  // No container: no pipeline and no status line, as in boot2container.
  expect(result.noPipeline).toBe(true);
  expect(result.exitCode).toBe(0);
  return result;
}

/** Boots and pulls the plug as soon as the console shows `when`; the boot must not have finished. */
async function bootAndCutPower(disks: string[], append: string[], when: RegExp): Promise<void> {
  const result = await cutPower({ disks, append: ['b2c.cache_wait=3', ...append], net: { kind: 'none' }, timeoutSeconds: 240 }, when);
  expect(result.cut).toBe(true);
  expect(result.status).toBeUndefined();
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
    expect(partitions[0]?.name).toBe('B2C_CACHE');
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

  it('auto keeps the other partitions of a disk that carries a B2C_CACHE partition; reset empties only that one', async () => {
    const image = disk('shared.img');
    partitionImage(image, 'label: gpt\n,128M,L\n,256M,L\n,,L\n');
    const [first, second, third] = [1, 2, 3].map((number) => partitionOffset(image, number));
    if (first === undefined || second === undefined || third === undefined) throw new Error('partitions missing');
    formatExt4At(image, first, 128 * 1024 ** 2, 'DUT_ROOT');
    formatExt4At(image, second, 256 * 1024 ** 2, 'B2C_CACHE');
    formatExt4At(image, third, GIB - 400 * 1024 ** 2, 'DUT_DATA');
    const keep = join(work, 'keep');
    writeFileSync(keep, 'operating system files\n');
    writeImageFile(image, first, keep, '/os-file');
    writeImageFile(image, third, keep, '/data-file');

    const reused = await bootWith([image], ['b2c.cache_device=auto']);
    expect(reused.console).toContain('cache: using /dev/vda2: /dev/vda2 is labelled B2C_CACHE');
    expect(reused.console).not.toMatch(/ERASING|FORMATTING/);
    writeImageFile(image, second, keep, '/volumes/old-volume');

    const reset = await bootWith([image], ['b2c.cache_device=reset']);
    expect(reset.console).toContain('cache: FORMATTING /dev/vda2 (everything on it is erased): b2c.cache_device=reset');
    expect(readImageFile(image, second, '/volumes/old-volume')).toBeUndefined();
    expect(readImageFile(image, second, '/ocinit-cache.json')).toContain('ocinit-cache');
    expect(listPartitions(image)).toHaveLength(3);
    expect(readImageFile(image, first, '/os-file')).toBe('operating system files\n');
    expect(readImageFile(image, third, '/data-file')).toBe('operating system files\n');
    expect(contentAt(image, first)).toEqual({ kind: 'ext', label: 'DUT_ROOT' });
  });

  it('b2c.cache_auto=empty leaves a disk with data alone and skips a boot disk, taking the blank one', async () => {
    const used = disk('used.img');
    partitionImage(used, 'label: gpt\n,,L\n');
    formatExt4At(used, partitionOffset(used, 1), GIB - 2 * 1024 ** 2, 'SOMETHING');
    const esp = disk('esp.img');
    partitionImage(esp, 'label: gpt\n,64M,U\n,,L\n');
    const blank = disk('second-blank.img');
    const result = await bootWith([used, esp, blank], ['b2c.cache_device=auto', 'b2c.cache_auto=empty']);
    expect(result.console).toMatch(/ERASING THE WHOLE DISK \/dev\/vdc: .*is blank/);
    expect(contentAt(used, partitionOffset(used, 1))).toEqual({ kind: 'ext', label: 'SOMETHING' });
    expect(listPartitions(esp)).toHaveLength(2);
    expect(contentAt(blank, partitionOffset(blank, 1))).toEqual({ kind: 'ext', label: 'B2C_CACHE' });

    const none = await bootWith([used], ['b2c.cache_device=auto', 'b2c.cache_auto=empty']);
    expect(none.console).toMatch(/not using a cache device: .*\/dev\/vda: holds a GPT partition table and b2c.cache_auto=empty keeps it/);
    expect(contentAt(used, partitionOffset(used, 1))).toEqual({ kind: 'ext', label: 'SOMETHING' });
  });

  it('b2c.cache_device=/dev/vdb formats that partition only; b2c.swap puts an active swap file on it, removed at shutdown', async () => {
    const other = disk('other.img');
    const target = disk('target.img');
    partitionImage(target, 'label: gpt\n,200M,L\n,,L\n');
    const result = await bootWith([other, target], ['b2c.cache_device=/dev/vdb2', 'b2c.swap=64M,swappiness=20']);
    expect(result.console).toContain('cache: FORMATTING /dev/vdb2');
    expect(result.console).toMatch(/swap: active: \/storage\/swapfile file 65532 0/);
    expect(result.console).toContain('swap: vm.swappiness = 20');
    expect(result.console).toMatch(/swap: still active at the end of the session: \/storage\/swapfile/);
    const offset = partitionOffset(target, 2);
    expect(readImageFile(target, offset, '/swapfile')).toBeUndefined();
    expect(ext4IsClean(target, offset)).toBe(true);
    expect(contentAt(other, 0)).toEqual({ kind: 'empty' });
  });

  it('b2c.cache_device=/dev/PARTITION with any filesystem label mounts it as it is: its files stay, nothing is formatted', async () => {
    const image = disk('labelled.img');
    partitionImage(image, 'label: gpt\n,,L\n');
    const offset = partitionOffset(image, 1);
    if (offset === undefined) throw new Error('partition missing');
    formatExt4At(image, offset, GIB - 2 * 1024 ** 2, 'rootfs');
    const keep = join(work, 'rootfs-file');
    writeFileSync(keep, 'the DUT operating system\n');
    writeImageFile(image, offset, keep, '/etc-os-release');

    const result = await bootWith([image], ['b2c.cache_device=/dev/vda1']);
    expect(result.console).toMatch(/cache: using \/dev\/vda1: \/dev\/vda1 is mounted as it is, never formatted: it holds an ext filesystem labelled rootfs/);
    expect(result.console).not.toMatch(/ERASING|FORMATTING/);
    expect(contentAt(image, offset)).toEqual({ kind: 'ext', label: 'rootfs' });
    expect(readImageFile(image, offset, '/etc-os-release')).toBe('the DUT operating system\n');
    expect(readImageFile(image, offset, '/ocinit-cache.json')).toContain('ocinit-cache');
  });

  it('a B2C_CACHE partition whose format was cut short is formatted again, even with b2c.cache_auto=empty', async () => {
    // What a power cut between sfdisk and mke2fs leaves: the GPT partition ocinit names, no filesystem.
    const image = disk('cut-format.img');
    partitionImage(image, 'label: gpt\ntype=L, name=B2C_CACHE\n');
    const result = await bootWith([image], ['b2c.cache_device=auto', 'b2c.cache_auto=empty']);
    expect(result.console).toMatch(/FORMATTING \/dev\/vda1 .*the GPT partition named B2C_CACHE that ocinit made for the cache, but it holds blank.*a format cut short/);
    expect(result.console).not.toContain('ERASING THE WHOLE DISK');
    expect(result.console).toContain('cache: /dev/vda1 mounted at /storage');
    expect(listPartitions(image)).toHaveLength(1);
    expect(ext4IsClean(image, partitionOffset(image, 1))).toBe(true);
  });

  it('power cut while formatting, then while mounted: every next boot succeeds with a clean cache', async () => {
    const image = disk('power.img');
    await bootAndCutPower([image], ['b2c.cache_device=auto'], /\$ mke2fs/);
    const afterFormatCut = await bootWith([image], ['b2c.cache_device=auto']);
    expect(afterFormatCut.console).toContain('cache: /dev/vda1 mounted at /storage');
    const offset = partitionOffset(image, 1);
    expect(ext4IsClean(image, offset)).toBe(true);

    await bootAndCutPower([image], ['b2c.cache_device=auto'], /cache: \/dev\/vda1 mounted at \/storage/);
    const afterMountedCut = await bootWith([image], ['b2c.cache_device=auto']);
    expect(afterMountedCut.console).toContain('did not shut down cleanly');
    expect(afterMountedCut.console).toContain('cache: /dev/vda1 synced and unmounted');
    expect(ext4IsClean(image, offset)).toBe(true);
  });

  it('b2c.cache_device=NAME mounts that b2c.filesystem as it is (never formatting it) and lays the cache out on it', async () => {
    const image = disk('named.img');
    formatExt4At(image, 0, GIB, 'LAB_SCRATCH');
    const keep = join(work, 'lab-file');
    writeFileSync(keep, 'the lab put this here\n');
    writeImageFile(image, 0, keep, '/lab-file');
    const result = await bootWith([image], ['b2c.filesystem=labcache,src=/dev/vda,type=ext4,opts=noatime', 'b2c.cache_device=labcache']);
    expect(result.console).toMatch(/mount -t ext4 -o noatime \/dev\/vda \/storage/);
    expect(result.console).toContain('cache: /dev/vda mounted at /storage');
    expect(result.console).not.toMatch(/ERASING|FORMATTING/);
    expect(contentAt(image, 0)).toEqual({ kind: 'ext', label: 'LAB_SCRATCH' });
    expect(readImageFile(image, 0, '/lab-file')).toBe('the lab put this here\n');
    expect(readImageFile(image, 0, '/ocinit-cache.json')).toContain('ocinit-cache');
  });
});
