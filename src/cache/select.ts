// Which device becomes the cache, and what must be done to it, following boot2container's rules.
// Pure: it gets the inventory (devices and what they contain) and returns a decision with the
// reason, which the caller logs before anything is erased.
import type { CacheDevice } from '../cmdline/plan.ts';
import type { BlockDevice } from '../system/block.ts';
import type { DeviceContent } from '../system/disk-signatures.ts';

export const CACHE_LABEL = 'B2C_CACHE';
/** Smaller disks are not worth a cache (and are more likely a firmware or boot device). */
export const MIN_CACHE_DISK_BYTES = 512 * 1024 * 1024;

export interface InventoryEntry {
  device: BlockDevice;
  content: DeviceContent;
}

/** `wipe`: boot2container's `auto` (take the first suitable disk); `empty`: only a blank disk. */
export type AutoPolicy = 'wipe' | 'empty';

export type CacheDecision =
  | { action: 'mount'; device: string; reason: string }
  /**
   * A partition the operator named that holds a labelled (or unidentified) filesystem: mounted as
   * it is, never checked with a repairing e2fsck, never formatted, whatever happens.
   */
  | { action: 'mount-as-is'; device: string; fstype: 'ext4' | 'auto'; reason: string }
  | { action: 'format'; device: string; reason: string }
  | { action: 'partition'; disk: string; reason: string }
  | { action: 'ram'; reason: string };

export function isCachePartition(entry: InventoryEntry): boolean {
  return entry.content.kind === 'ext' && entry.content.label === CACHE_LABEL;
}

/** A GPT partition ocinit made for the cache (named B2C_CACHE), whatever it holds now. */
export function isPartitionMadeForCache(entry: InventoryEntry): boolean {
  return entry.device.kind === 'partition' && entry.device.partitionLabel === CACHE_LABEL;
}

/** Why a disk may not be taken by `auto`, or undefined when it may. */
export function unsuitableBecause(entry: InventoryEntry, inventory: readonly InventoryEntry[]): string | undefined {
  const { device, content } = entry;
  if (device.kind !== 'disk') return 'a partition';
  if (device.cdrom) return 'an optical drive';
  if (device.virtual) return 'a virtual device';
  if (device.readOnly) return 'read-only';
  if (device.sizeBytes < MIN_CACHE_DISK_BYTES) return `smaller than ${MIN_CACHE_DISK_BYTES / 1024 ** 2} MiB`;
  if (content.bootable === true) return 'it holds an EFI system partition or a bootable partition (likely the boot medium)';
  if (inventory.some((other) => other.device.disk === device.name && other.device.kind === 'partition' && other.content.bootable === true)) {
    return 'it holds a bootable partition (likely the boot medium)';
  }
  return undefined;
}

function isBlank(entry: InventoryEntry, inventory: readonly InventoryEntry[]): boolean {
  return entry.content.kind === 'empty' && !inventory.some((other) => other.device.kind === 'partition' && other.device.disk === entry.device.name);
}

function describeContent(entry: InventoryEntry): string {
  const { content } = entry;
  if (content.kind === 'empty') return 'blank';
  const label = content.label === undefined || content.label === '' ? '' : ` labelled ${content.label}`;
  const names: Record<DeviceContent['kind'], string> = {
    empty: 'blank',
    ext: 'an ext filesystem',
    swap: 'swap',
    vfat: 'a FAT filesystem',
    gpt: 'a GPT partition table',
    mbr: 'an MBR partition table',
    unknown: 'unrecognised data',
  };
  return `${names[content.kind]}${label}`;
}

function firstSuitableDisk(inventory: readonly InventoryEntry[], policy: AutoPolicy): CacheDecision {
  const skipped: string[] = [];
  for (const entry of inventory) {
    if (entry.device.kind !== 'disk') continue;
    const why = unsuitableBecause(entry, inventory);
    if (why !== undefined) {
      skipped.push(`${entry.device.path}: ${why}`);
      continue;
    }
    const size = `${(entry.device.sizeBytes / 1024 ** 3).toFixed(1)} GiB`;
    if (isBlank(entry, inventory)) {
      return { action: 'partition', disk: entry.device.path, reason: `no ${CACHE_LABEL} partition found; ${entry.device.path} (${size}) is blank` };
    }
    if (policy === 'wipe') {
      return {
        action: 'partition',
        disk: entry.device.path,
        reason: `no ${CACHE_LABEL} partition found; ${entry.device.path} (${size}, ${describeContent(entry)}) is the first suitable disk and b2c.cache_device=auto takes it, as boot2container does`,
      };
    }
    skipped.push(`${entry.device.path}: holds ${describeContent(entry)} and b2c.cache_auto=empty keeps it`);
  }
  const detail = skipped.length === 0 ? 'no disks found' : skipped.join('; ');
  return { action: 'ram', reason: `no ${CACHE_LABEL} partition and no disk to take (${detail})` };
}

/** The first B2C_CACHE filesystem, on `disk` when given. */
function findCachePartition(inventory: readonly InventoryEntry[], disk?: string): InventoryEntry | undefined {
  return inventory.find((entry) => isCachePartition(entry) && (disk === undefined || entry.device.disk === disk));
}

/**
 * A partition ocinit made for the cache (GPT name B2C_CACHE) that holds no B2C_CACHE filesystem:
 * its formatting was cut short (a power loss during mke2fs). It is formatted again, with any policy:
 * it was made to be the cache, so nothing on it is anyone's data.
 */
function unformattedCachePartition(inventory: readonly InventoryEntry[], disk?: string): CacheDecision | undefined {
  const entry = inventory.find(
    (candidate) =>
      isPartitionMadeForCache(candidate) && !isCachePartition(candidate) && !candidate.device.readOnly && (disk === undefined || candidate.device.disk === disk),
  );
  if (entry === undefined) return undefined;
  return {
    action: 'format',
    device: entry.device.path,
    reason: `${entry.device.path} is the GPT partition named ${CACHE_LABEL} that ocinit made for the cache, but it holds ${describeContent(entry)}, not a ${CACHE_LABEL} filesystem (a format cut short?)`,
  };
}

/**
 * b2c.cache_device=/dev/PARTITION, with boot2container's rule (`try_to_use_cache_device`): format it
 * only when it has no filesystem label; any label, whatever it says, means someone's data, which is
 * mounted as it is. The initramfs has no blkid: what `describeContent` cannot identify may carry a
 * label we cannot read (XFS, btrfs...), so it is mounted as is too, never formatted.
 */
function namedPartition(entry: InventoryEntry): CacheDecision {
  const path = entry.device.path;
  const { content } = entry;
  if (isCachePartition(entry)) return { action: 'mount', device: path, reason: `${path} is labelled ${CACHE_LABEL}` };
  const labelled = content.label !== undefined && content.label !== '';
  if (labelled || content.kind === 'unknown' || content.kind === 'gpt' || content.kind === 'mbr') {
    const why = labelled ? `it holds ${describeContent(entry)}` : `it holds ${describeContent(entry)}, which may carry a label ocinit cannot read`;
    return {
      action: 'mount-as-is',
      device: path,
      fstype: content.kind === 'ext' ? 'ext4' : 'auto',
      reason: `${path} is mounted as it is, never formatted: ${why} (only a partition without a filesystem label is formatted)`,
    };
  }
  return { action: 'format', device: path, reason: `${path} holds ${describeContent(entry)} without a filesystem label: b2c.cache_device names it, so it is formatted` };
}

/**
 * The decision for `none`, `auto`, `reset` and `/dev/X` (a `b2c.filesystem` name is mounted as the
 * operator described it, so it never gets here).
 */
export function decideCache(cache: CacheDevice, inventory: readonly InventoryEntry[], policy: AutoPolicy): CacheDecision {
  switch (cache.kind) {
    case 'none':
      return { action: 'ram', reason: 'b2c.cache_device=none' };
    case 'filesystem':
      return { action: 'ram', reason: `b2c.cache_device=${cache.name} names a filesystem` };
    case 'auto': {
      const found = findCachePartition(inventory);
      if (found !== undefined) return { action: 'mount', device: found.device.path, reason: `${found.device.path} is labelled ${CACHE_LABEL}` };
      return unformattedCachePartition(inventory) ?? firstSuitableDisk(inventory, policy);
    }
    case 'reset': {
      const found = findCachePartition(inventory);
      if (found !== undefined) return { action: 'format', device: found.device.path, reason: `b2c.cache_device=reset: reformatting the ${CACHE_LABEL} partition ${found.device.path}` };
      return unformattedCachePartition(inventory) ?? firstSuitableDisk(inventory, policy);
    }
    case 'device': {
      const entry = inventory.find((candidate) => candidate.device.path === cache.path);
      if (entry === undefined) return { action: 'ram', reason: `${cache.path} does not exist` };
      if (entry.device.readOnly) return { action: 'ram', reason: `${cache.path} is read-only` };
      if (entry.device.kind === 'partition') return namedPartition(entry);
      if (isCachePartition(entry)) return { action: 'mount', device: cache.path, reason: `${cache.path} is labelled ${CACHE_LABEL}` };
      const onDisk = findCachePartition(inventory, entry.device.name);
      if (onDisk !== undefined) return { action: 'mount', device: onDisk.device.path, reason: `${onDisk.device.path} on ${cache.path} is labelled ${CACHE_LABEL}` };
      const unformatted = unformattedCachePartition(inventory, entry.device.name);
      if (unformatted !== undefined) return unformatted;
      return {
        action: 'partition',
        disk: cache.path,
        reason: `${cache.path} (${describeContent(entry)}) has no ${CACHE_LABEL} partition: b2c.cache_device names it, so it is repartitioned`,
      };
    }
  }
}
