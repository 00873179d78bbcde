// Finding the cache device on this machine (with a bounded wait for slow disks) and preparing it:
// partition, format or check, then mount.
import type { Plan } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';
import { OcinitError } from '../log/errors.ts';
import { listBlockDevices, partitionName, readDeviceContent, waitFor } from '../system/block.ts';
import { checkExt4, formatExt4, partitionWholeDisk } from '../system/disk-tools.ts';
import { runCommand } from '../system/exec.ts';
import { mount } from '../system/mount.ts';
import { CACHE_LABEL, isCachePartition, isPartitionMadeForCache, unsuitableBecause, type CacheDecision, type InventoryEntry } from './select.ts';

/** Devices must keep the same list this long before `auto` settles for wiping one. */
const SETTLE_MS = 1000;

export async function takeInventory(): Promise<InventoryEntry[]> {
  const devices = listBlockDevices();
  return Promise.all(devices.map(async (device) => ({ device, content: await readDeviceContent(device.path) })));
}

/** Whether the inventory already holds what `cache` is looking for. */
function found(plan: Plan, inventory: readonly InventoryEntry[]): 'final' | 'candidate' | undefined {
  const cache = plan.cacheDevice;
  if (cache.kind === 'device') return inventory.some((entry) => entry.device.path === cache.path) ? 'final' : undefined;
  if (inventory.some((entry) => isCachePartition(entry) || isPartitionMadeForCache(entry))) return 'final';
  return inventory.some((entry) => entry.device.kind === 'disk' && unsuitableBecause(entry, inventory) === undefined) ? 'candidate' : undefined;
}

/**
 * Waits up to b2c.cache_wait for the device: a named one until it exists; for auto/reset until a
 * B2C_CACHE partition shows up, or a suitable disk is there and no new device appeared for a
 * second (so a slow USB disk carrying the cache is not beaten by a fast blank one).
 */
export async function waitForInventory(plan: Plan, log: Logger): Promise<InventoryEntry[]> {
  const timeoutMs = plan.cache.waitSeconds * 1000;
  let last = await takeInventory();
  let lastChange = Date.now();
  let announced = false;
  const settled = await waitFor(
    async () => {
      const inventory = await takeInventory();
      const names = (list: InventoryEntry[]): string => list.map((entry) => entry.device.name).join(' ');
      if (names(inventory) !== names(last)) lastChange = Date.now();
      last = inventory;
      const state = found(plan, inventory);
      if (state === 'final' || (state === 'candidate' && Date.now() - lastChange >= SETTLE_MS)) return inventory;
      if (!announced && state === undefined) {
        announced = true;
        log.info(`cache: waiting up to ${plan.cache.waitSeconds} s for ${plan.cacheDevice.kind === 'device' ? plan.cacheDevice.path : 'a disk'} to appear`);
      }
      return undefined;
    },
    timeoutMs,
    200,
  );
  return settled ?? last;
}

/** A filesystem ready to be mounted as the cache. */
export interface PreparedCache {
  device: string;
  fstype: 'ext4' | 'auto';
}

/** Carries out a decision; returns the filesystem to mount (a B2C_CACHE one unless mounted as is). */
export async function applyDecision(decision: Exclude<CacheDecision, { action: 'ram' }>, log: Logger): Promise<PreparedCache> {
  switch (decision.action) {
    case 'mount-as-is':
      log.warn(`cache: using ${decision.device}: ${decision.reason}`);
      return { device: decision.device, fstype: decision.fstype };
    case 'mount':
      log.info(`cache: using ${decision.device}: ${decision.reason}`);
      if (!(await checkExt4(decision.device, log))) {
        // A cache is worth less than the job: a filesystem e2fsck cannot repair (a format cut by a
        // power loss, a failing disk) is made again rather than left to fail every later boot.
        log.warn(`cache: FORMATTING ${decision.device} (everything on it is erased): its filesystem has errors e2fsck could not repair`);
        await formatExt4(decision.device, CACHE_LABEL, log);
      }
      return { device: decision.device, fstype: 'ext4' };
    case 'format':
      log.warn(`cache: FORMATTING ${decision.device} (everything on it is erased): ${decision.reason}`);
      await formatExt4(decision.device, CACHE_LABEL, log);
      return { device: decision.device, fstype: 'ext4' };
    case 'partition': {
      log.warn(`cache: ERASING THE WHOLE DISK ${decision.disk}: ${decision.reason}. It gets one GPT partition formatted ext4 and labelled ${CACHE_LABEL}.`);
      await partitionWholeDisk(decision.disk, CACHE_LABEL, log);
      const disk = decision.disk.replace(/^\/dev\//, '');
      const partition = `/dev/${partitionName(disk, 1)}`;
      const appeared = await waitFor(() => (listBlockDevices().some((device) => device.path === partition) ? true : undefined), 10_000);
      if (appeared === undefined) throw new OcinitError(`${partition} did not appear after partitioning ${decision.disk}`, { parameter: 'b2c.cache_device' });
      await formatExt4(partition, CACHE_LABEL, log);
      return { device: partition, fstype: 'ext4' };
    }
  }
}

/**
 * Mounts the cache filesystem. The modules are loaded first: ext4 needs crc32c (a soft dependency
 * modprobe does not load on its own) and the kernel may not find modprobe itself.
 */
export async function mountPrepared(prepared: PreparedCache, target: string, log: Logger): Promise<void> {
  await runCommand(['modprobe', '-a', 'crc32c', 'ext4']).catch(() => undefined);
  await mount({ fstype: prepared.fstype, source: prepared.device, target }, log);
}

/** b2c.cache_device=NAME: the b2c.filesystem of that name is mounted as the cache, as described. */
export async function mountNamedFilesystem(plan: Plan, name: string, target: string, log: Logger): Promise<string> {
  const filesystem = plan.filesystems.find((candidate) => candidate.name === name);
  if (filesystem === undefined) {
    throw new OcinitError(`b2c.cache_device=${name} names no b2c.filesystem`, { parameter: 'b2c.cache_device', hint: `add b2c.filesystem=${name},src=...` });
  }
  if (filesystem.source.startsWith('/dev/')) {
    const source = filesystem.source;
    await waitFor(() => (listBlockDevices().some((device) => device.path === source) ? true : undefined), plan.cache.waitSeconds * 1000, 200);
  }
  if (filesystem.type !== undefined) await runCommand(['modprobe', filesystem.type]).catch(() => undefined);
  const options = filesystem.options.length === 0 ? undefined : filesystem.options.join(',');
  await mount({ fstype: filesystem.type ?? 'auto', source: filesystem.source, target, options }, log);
  return filesystem.source;
}
