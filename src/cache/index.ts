// Where the job's bytes live: the content store, unpacked images, named volumes and containers'
// writable layers. With b2c.cache_device=none (the default) all of it is in RAM and gone at
// power-off; with a cache device it is on the B2C_CACHE partition mounted at /storage.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheSettings, Plan } from '../cmdline/plan.ts';
import { describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { MountSpec } from '../system/mount.ts';
import { enableExt4Encryption, syncAll, unmount } from '../system/disk-tools.ts';
import { applyDecision, mountNamedFilesystem, mountPrepared, waitForInventory } from './device.ts';
import { cacheLayout, markCleanShutdown, prepareLayout, type CacheLayout } from './layout.ts';
import { decideCache } from './select.ts';
import { enableSwap, type ActiveSwap } from './swap.ts';
import { removeExpiredVolumes } from './volumes.ts';

export interface Storage {
  /** Root of the content store (src/store ContentStore). */
  storeDir: string;
  /** Named volumes, one directory each. */
  volumesDir: string;
  /** Unpacked images, one directory per manifest digest; kept across boots on a cache device. */
  imagesDir: string;
  /** Containers' writable layers, bundles and other per-boot scratch. */
  scratchDir: string;
  /** True when it survives a reboot (a cache device is mounted). */
  persistent: boolean;
  /** The cache device's layout (usage records for GC, swap file...), when there is one. */
  cache: CacheLayout | undefined;
  /** The device mounted at the cache's root (e.g. /dev/vda1), when there is one. */
  device: string | undefined;
  /** The b2c.cache_* settings (offline fallback, GC threshold) for the pull path. */
  settings: CacheSettings;
  /** Sync and release it before the session ends (swap off, unmount). Safe to call twice. */
  close(): Promise<void>;
}

const RAM_ROOT = '/run/ocinit';

/**
 * Without a cache device the scratch directory (containers' upper layers) is on a tmpfs of its own:
 * overlayfs may refuse the initramfs root as an upper layer. initrd/init.sh mounts it so before the
 * launcher starts (a busybox fork; a spawn from Node is ~0.2 s under TCG); the run phase mounts it
 * when it is not there.
 */
export const RAM_SCRATCH: MountSpec = { fstype: 'tmpfs', source: 'tmpfs', target: join(RAM_ROOT, 'scratch'), options: 'mode=0755' };
export const CACHE_MOUNT_POINT = '/storage';

function directories(storage: Pick<Storage, 'storeDir' | 'volumesDir' | 'imagesDir' | 'scratchDir'>): string[] {
  return [storage.storeDir, storage.volumesDir, storage.imagesDir, storage.scratchDir];
}

function inRam(root: string, settings: CacheSettings, swap: ActiveSwap | undefined): Storage {
  const storage: Storage = {
    storeDir: join(root, 'store'),
    volumesDir: join(root, 'volumes'),
    imagesDir: join(root, 'images'),
    scratchDir: join(root, 'scratch'),
    persistent: false,
    cache: undefined,
    device: undefined,
    settings,
    close: async () => {
      await swap?.disable();
    },
  };
  for (const dir of directories(storage)) mkdirSync(dir, { recursive: true });
  return storage;
}

/** The Storage view of a prepared cache layout; `close` releases it. */
export function storageOnCache(layout: CacheLayout, device: string | undefined, settings: CacheSettings, close: () => Promise<void>): Storage {
  return {
    storeDir: layout.storeDir,
    volumesDir: layout.volumesDir,
    imagesDir: layout.imagesDir,
    scratchDir: layout.scratchDir,
    persistent: true,
    cache: layout,
    device,
    settings,
    close,
  };
}

function onCache(layout: CacheLayout, device: string, settings: CacheSettings, swap: ActiveSwap | undefined, log: Logger): Storage {
  let closed = false;
  return storageOnCache(layout, device, settings, async () => {
    if (closed) return;
    closed = true;
    await swap?.disable();
    await syncAll();
    await markCleanShutdown(layout).catch((error: unknown) => log.warn(`cache: cannot record the clean shutdown: ${describeError(error)}`));
    await unmount(layout.root, log);
    log.info(`cache: ${device} synced and unmounted`);
  });
}

/** b2c.swap; without a cache (swapFile undefined) only a swap device works. A failure is logged, never fatal. */
async function startSwap(plan: Plan, swapFile: string | undefined, log: Logger): Promise<ActiveSwap | undefined> {
  if (plan.swap === undefined) return undefined;
  try {
    return await enableSwap(plan.swap, swapFile, log);
  } catch (error) {
    log.error(`swap: ${describeError(error)}`);
    return undefined;
  }
}

/** Finds, prepares and mounts the cache device; returns the device, or undefined to stay in RAM. */
async function mountCache(plan: Plan, mountPoint: string, log: Logger): Promise<string | undefined> {
  const cache = plan.cacheDevice;
  if (cache.kind === 'filesystem') return mountNamedFilesystem(plan, cache.name, mountPoint, log);
  const inventory = await waitForInventory(plan, log);
  const decision = decideCache(cache, inventory, plan.cache.auto);
  if (decision.action === 'ram') {
    log.warn(`cache: not using a cache device: ${decision.reason}; images and volumes stay in RAM for this boot`);
    return undefined;
  }
  const prepared = await applyDecision(decision, log);
  await mountPrepared(prepared, mountPoint, log);
  return prepared.device;
}

export interface OpenStorageOptions {
  /** Where RAM storage goes (host tests). */
  ramRoot?: string;
}

/** Opens the storage the plan asks for (b2c.cache_device); never fails the boot: RAM is the fallback. */
export async function openStorage(plan: Plan, log: Logger, options: OpenStorageOptions = {}): Promise<Storage> {
  const ramRoot = options.ramRoot ?? RAM_ROOT;
  if (plan.cacheDevice.kind === 'none') return inRam(ramRoot, plan.cache, await startSwap(plan, undefined, log));
  const mountPoint = CACHE_MOUNT_POINT;
  let device: string | undefined;
  try {
    device = await mountCache(plan, mountPoint, log);
  } catch (error) {
    log.error(`cache: ${describeError(error)}`);
    log.error('cache: going on without a cache device: images and volumes stay in RAM for this boot');
  }
  if (device === undefined) return inRam(ramRoot, plan.cache, await startSwap(plan, undefined, log));

  const layout = cacheLayout(mountPoint);
  try {
    await prepareLayout(layout, log, { verify: plan.cache.verify });
  } catch (error) {
    log.error(`cache: ${describeError(error)}`);
    await unmount(mountPoint, log);
    return inRam(ramRoot, plan.cache, await startSwap(plan, undefined, log));
  }
  log.info(`cache: ${device} mounted at ${mountPoint} (also reachable as /container)`);
  if (plan.volumes.some((volume) => volume.fscryptKey !== undefined)) await enableExt4Encryption(device, log);
  await removeExpiredVolumes(plan.volumes, layout.volumesDir, log);
  return onCache(layout, device, plan.cache, await startSwap(plan, layout.swapFile, log), log);
}
