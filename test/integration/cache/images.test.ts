// ImageCache against Debian's docker-registry: --pull policies, reuse without downloads, the
// outage fallback for digest-pinned images, last-use records and collection.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageOnCache, type Storage } from '../../../src/cache/index.ts';
import { readUsage, unpackedImageDir } from '../../../src/cache/gc.ts';
import { ImageCache, offlineAllowed } from '../../../src/cache/images.ts';
import { cacheLayout, prepareLayout, verifyStore } from '../../../src/cache/layout.ts';
import { createDefaultPlan } from '../../../src/cmdline/parameters.ts';
import { describeError } from '../../../src/log/errors.ts';
import { Logger } from '../../../src/log/logger.ts';
import { parseReference } from '../../../src/reference/reference.ts';
import { buildImageLayout, pushLayout, type ImageSpec } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

let registry: TestRegistry;
let work: string;
let counter = 0;
const PULL = { tlsVerify: false, attempts: 1, retryDelayMs: 10, timeoutMs: 2000 };

function spec(text: string): ImageSpec {
  return { layers: [{ files: [{ path: 'hello.txt', content: `${text}\n${'x'.repeat(4096)}` }] }, { files: [{ path: 'etc/motd', content: text }] }] };
}

async function push(text: string, tag: string): Promise<string> {
  const layout = join(work, `layout-${counter++}`);
  await buildImageLayout(layout, tag, spec(text));
  return pushLayout(layout, tag, registry, { name: 'cache/test' });
}

async function cacheStorage(settings: Partial<Storage['settings']> = {}): Promise<Storage> {
  const layout = cacheLayout(join(work, `cache-${counter++}`));
  mkdirSync(layout.root, { recursive: true });
  const log = new Logger({ sink: () => {}, color: false });
  await prepareLayout(layout, log, { verify: false });
  return storageOnCache(layout, undefined, { ...createDefaultPlan().cache, ...settings }, async () => {});
}

function logger(): { log: Logger; text: () => string } {
  let text = '';
  return { log: new Logger({ sink: (chunk) => (text += chunk), color: false }), text: () => text };
}

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-cache-images-'));
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('ImageCache', () => {
  it('--pull=always asks the registry again but downloads no blob it has; missing and never use the cache', async () => {
    const reference = await push('one', 'one');
    const storage = await cacheStorage();
    const first = await new ImageCache(storage, logger().log).get(reference, 'always', PULL);
    expect(first.image.blobsDownloaded).toBe(3);
    const again = await new ImageCache(storage, logger().log).get(reference, 'always', PULL);
    expect(again.image.blobsDownloaded).toBe(0);
    expect(again.image.manifestDigest).toBe(first.image.manifestDigest);
    for (const policy of ['missing', 'never'] as const) {
      const cached = await new ImageCache(storage, logger().log).get(reference, policy, PULL);
      expect(cached).toMatchObject({ offline: false, image: { source: 'cache', manifestDigest: first.image.manifestDigest } });
    }
    const records = await readUsage(storage.cache?.usageDir ?? '');
    expect(records.map((record) => record.manifestDigest)).toEqual([first.image.manifestDigest]);
  });

  it('--pull=never on an image the cache lacks fails with a hint, downloading nothing', async () => {
    const reference = await push('absent', 'absent');
    const storage = await cacheStorage();
    await expect(new ImageCache(storage, logger().log).get(reference, 'never', PULL)).rejects.toThrow(/--pull=never, and .* is not in the cache/);
    expect(await new ImageCache(storage, logger().log).store.listBlobs()).toEqual([]);
  });

  it('a corrupt cached layer is never used: it is discarded and downloaded again', async () => {
    const reference = await push('corrupt', 'corrupt');
    const storage = await cacheStorage();
    const cache = new ImageCache(storage, logger().log);
    const pulled = await cache.get(reference, 'always', PULL);
    const layer = pulled.image.layers[0]?.descriptor;
    if (layer === undefined) throw new Error('no layer');
    const path = cache.store.blobPath(layer.digest);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const report = await verifyStore(storage.storeDir, logger().log);
    expect(report.discarded).toEqual([layer.digest]);
    const again = await new ImageCache(storage, logger().log).get(reference, 'missing', PULL);
    expect(again.image.blobsDownloaded).toBe(1);
  });

  it('b2c.cache_offline: digest-pinned references may run from the cache by default, tags only with always', () => {
    const pinned = parseReference(`127.0.0.1:5000/a/b@sha256:${'a'.repeat(64)}`);
    const tagged = parseReference('127.0.0.1:5000/a/b:latest');
    expect([offlineAllowed(pinned, 'digest'), offlineAllowed(tagged, 'digest')]).toEqual([true, false]);
    expect([offlineAllowed(pinned, 'never'), offlineAllowed(tagged, 'always')]).toEqual([false, true]);
  });

  it('collection removes the least recently used images not in use, and what they alone needed', async () => {
    const storage = await cacheStorage();
    const old = await push('old image', 'old');
    const recent = await push('recent image', 'recent');
    const current = await push('current image', 'current');
    const oldImage = (await new ImageCache(storage, logger().log).get(old, 'always', PULL)).image;
    const recentImage = (await new ImageCache(storage, logger().log).get(recent, 'always', PULL)).image;
    mkdirSync(unpackedImageDir(storage.imagesDir, oldImage.manifestDigest), { recursive: true });

    // Any free space is too little now: everything this boot does not use may go, oldest first.
    const squeezed: Storage = { ...storage, settings: { ...storage.settings, minFree: { bytes: Number.MAX_SAFE_INTEGER } } };
    const { log, text } = logger();
    const cache = new ImageCache(squeezed, log);
    const currentImage = (await cache.get(current, 'always', PULL)).image;
    expect(text()).toMatch(/removed .*:old[\s\S]*removed .*:recent/);
    expect(existsSync(unpackedImageDir(storage.imagesDir, oldImage.manifestDigest))).toBe(false);
    const blobs = await cache.store.listBlobs();
    for (const layer of [...oldImage.layers, ...recentImage.layers]) expect(blobs).not.toContain(layer.descriptor.digest);
    for (const layer of currentImage.layers) expect(blobs).toContain(layer.descriptor.digest);
    // What this boot already uses survives a second collection.
    await cache.get(current, 'always', PULL);
    expect(await cache.store.listBlobs()).toEqual(expect.arrayContaining(currentImage.layers.map((layer) => layer.descriptor.digest)));
  });

  it('registry stopped: b2c.cache_offline decides which cached images run, and each offline run is announced', async () => {
    const tagged = await push('outage', 'outage');
    const storage = await cacheStorage();
    const pulled = await new ImageCache(storage, logger().log).get(tagged, 'always', PULL);
    const pinned = `${tagged.replace(/:outage$/, '')}@${pulled.image.manifestDigest}`;
    const withSetting = (offline: Storage['settings']['offline']): Storage => ({ ...storage, settings: { ...storage.settings, offline } });
    await registry.stop();
    try {
      const { log, text } = logger();
      const cache = new ImageCache(storage, log);
      const cached = await cache.get(pinned, 'always', PULL);
      expect(cached).toMatchObject({ offline: true, image: { manifestDigest: pulled.image.manifestDigest, blobsDownloaded: 0 } });
      expect(cache.notices).toHaveLength(1);
      expect(cache.notices[0]).toMatch(/^REGISTRY UNREACHABLE: running .* from the cache \(sha256:[0-9a-f]{64}, as last pulled\) because b2c.cache_offline=digest/);
      expect(text()).toContain('REGISTRY UNREACHABLE');

      // A tag may have moved since: by default it is not run from the cache.
      await expect(new ImageCache(storage, logger().log).get(tagged, 'always', PULL)).rejects.toThrow(/cannot reach registry/);
      const always = await new ImageCache(withSetting('always'), logger().log).get(tagged, 'always', PULL);
      expect(always).toMatchObject({ offline: true, image: { manifestDigest: pulled.image.manifestDigest } });
      await expect(new ImageCache(withSetting('never'), logger().log).get(pinned, 'always', PULL)).rejects.toThrow(/cannot reach registry/);
    } finally {
      registry = await startRegistry();
    }
  });

  /** An image of one uncompressed layer holding `megabytes` of random bytes. */
  async function bulkyImage(tag: string, megabytes: number): Promise<string> {
    const layoutDir = join(work, `layout-${counter++}`);
    await buildImageLayout(layoutDir, tag, { layers: [{ files: [{ path: 'bulk.bin', content: randomBytes(megabytes * 1024 * 1024) }], compression: 'none' }] });
    return pushLayout(layoutDir, tag, registry, { name: 'cache/space' });
  }

  /** A real file system that fills up: a 24 MiB tmpfs of our own, holding a cache that collects only when space runs out. */
  async function withSmallCache(test: (storage: Storage) => Promise<void>): Promise<void> {
    const root = join(work, `small-${counter++}`);
    mkdirSync(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', root]);
    try {
      const layout = cacheLayout(root);
      await prepareLayout(layout, logger().log, { verify: false });
      await test(storageOnCache(layout, undefined, { ...createDefaultPlan().cache, minFree: { bytes: 0 } }, async () => {}));
    } finally {
      execFileSync('umount', [root]);
    }
  }

  it('out of space mid-pull: unused images are collected and the pull retried; an image that cannot fit says so', async () => {
    await withSmallCache(async (storage) => {
      const [first, second, huge] = [await bulkyImage('first', 14), await bulkyImage('second', 14), await bulkyImage('huge', 30)];
      await new ImageCache(storage, logger().log).get(first, 'always', PULL);
      const { log, text } = logger();
      const pulled = await new ImageCache(storage, log).get(second, 'always', PULL);
      expect(pulled.image.blobsDownloaded).toBe(2);
      expect(text()).toContain('out of space while pulling');
      expect(text()).toMatch(/removed \S+:first/);
      await expect(new ImageCache(storage, logger().log).get(huge, 'always', PULL)).rejects.toThrow(/does not fit in the cache, even after removing every image this boot does not use/);
    });
  });

  it('out of space mid-unpack: the last boot\'s image is collected and the unpack retried', async () => {
    await withSmallCache(async (storage) => {
      const [previous, current] = [await bulkyImage('previous', 6), await bulkyImage('current', 6)];
      // The previous boot: its blobs and its unpacked tree stay on the cache (12 MiB).
      const earlier = new ImageCache(storage, logger().log);
      const previousImage = (await earlier.get(previous, 'always', PULL)).image;
      await earlier.unpack(previousImage, unpackedImageDir(storage.imagesDir, previousImage.manifestDigest));
      // This boot: the pull fits (18 MiB), the unpack does not (24 MiB) until the previous image goes.
      const { log, text } = logger();
      const cache = new ImageCache(storage, log);
      const currentImage = (await cache.get(current, 'always', PULL)).image;
      const dir = unpackedImageDir(storage.imagesDir, currentImage.manifestDigest);
      await cache.unpack(currentImage, dir);
      expect(text()).toContain(`out of space while unpacking ${parseReference(current).canonical}`);
      expect(text()).toMatch(/removed \S+:previous/);
      expect(readFileSync(join(dir, 'bulk.bin')).length).toBe(6 * 1024 * 1024);
      expect(existsSync(unpackedImageDir(storage.imagesDir, previousImage.manifestDigest))).toBe(false);
    });
  });

  it('a pull that unpacks as it downloads and runs out of space is retried after collection, tree and all', async () => {
    await withSmallCache(async (storage) => {
      const [previous, current] = [await bulkyImage('previous-overlap', 6), await bulkyImage('current-overlap', 6)];
      const treeOf = (resolved: { manifestDigest: string }): string => unpackedImageDir(storage.imagesDir, resolved.manifestDigest);
      const earlier = new ImageCache(storage, logger().log);
      await earlier.get(previous, 'always', { ...PULL, unpackTarget: treeOf });
      const { log, text } = logger();
      const { image } = await new ImageCache(storage, log).get(current, 'always', { ...PULL, unpackTarget: treeOf });
      expect(text()).toContain(`out of space while pulling ${parseReference(current).canonical}`);
      expect(text()).toMatch(/removed \S+:previous-overlap/);
      expect(readFileSync(join(treeOf(image), 'bulk.bin')).length).toBe(6 * 1024 * 1024);
      expect(readdirSync(storage.imagesDir).filter((name) => name.includes('ocinit-'))).toEqual([]);
    });
  });

  it('in RAM, an image that does not fit says so and what to do', async () => {
    const ram = join(work, `ram-${counter++}`);
    mkdirSync(ram);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', ram]);
    try {
      const storeDir = join(work, `ram-store-${counter++}`);
      const storage: Storage = {
        storeDir,
        volumesDir: join(ram, 'volumes'),
        imagesDir: join(ram, 'images'),
        scratchDir: join(ram, 'scratch'),
        persistent: false,
        cache: undefined,
        device: undefined,
        settings: createDefaultPlan().cache,
        close: async () => {},
      };
      mkdirSync(storage.imagesDir);
      const reference = await bulkyImage('too-big', 6);
      const cache = new ImageCache(storage, logger().log);
      const { image } = await cache.get(reference, 'always', PULL);
      const dir = unpackedImageDir(storage.imagesDir, image.manifestDigest);
      const error = await cache.unpack(image, dir).catch((caught: unknown) => caught);
      expect(describeError(error)).toMatch(/does not fit in RAM: out of space while unpacking it \(\d+ of \d+ MB free\)[\s\S]*hint: give the job a cache disk \(b2c\.cache_device\)/);
      expect(existsSync(dir)).toBe(false);
    } finally {
      execFileSync('umount', [ram]);
    }
  });
});
