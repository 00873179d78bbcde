import { describe, expect, it } from 'vitest';
import type { CacheDevice } from '../../../src/cmdline/plan.ts';
import { decideCache, type InventoryEntry } from '../../../src/cache/select.ts';
import type { BlockDevice } from '../../../src/system/block.ts';
import type { DeviceContent } from '../../../src/system/disk-signatures.ts';

const GIB = 1024 ** 3;

function entry(name: string, content: DeviceContent, device: Partial<BlockDevice> = {}): InventoryEntry {
  const disk = device.disk ?? name.replace(/p?\d+$/, '');
  const kind = device.kind ?? (disk === name ? 'disk' : 'partition');
  return {
    device: { name, path: `/dev/${name}`, kind, disk, sizeBytes: 8 * GIB, readOnly: false, removable: false, cdrom: false, virtual: false, ...device },
    content,
  };
}

const cacheFs: DeviceContent = { kind: 'ext', label: 'B2C_CACHE' };
const otherFs: DeviceContent = { kind: 'ext', label: 'rootfs' };
const gpt: DeviceContent = { kind: 'gpt', bootable: false };
const blank: DeviceContent = { kind: 'empty' };
const auto: CacheDevice = { kind: 'auto' };

describe('decideCache', () => {
  it('auto reuses the first B2C_CACHE partition wherever it is', () => {
    const inventory = [entry('sda', gpt), entry('sda1', otherFs), entry('sdb', gpt), entry('sdb1', otherFs), entry('sdb2', cacheFs)];
    expect(decideCache(auto, inventory, 'wipe')).toMatchObject({ action: 'mount', device: '/dev/sdb2' });
  });

  it('formats the B2C_CACHE-named partition a cut-short format left without a filesystem, whatever the policy', () => {
    const inventory = [entry('sda', gpt), entry('sda1', otherFs), entry('sdb', gpt), entry('sdb1', blank, { partitionLabel: 'B2C_CACHE' })];
    for (const policy of ['wipe', 'empty'] as const) {
      const decision = decideCache(auto, inventory, policy);
      expect(decision).toMatchObject({ action: 'format', device: '/dev/sdb1' });
      expect(decision.reason).toContain('a format cut short');
    }
    expect(decideCache({ kind: 'reset' }, inventory, 'empty')).toMatchObject({ action: 'format', device: '/dev/sdb1' });
    expect(decideCache({ kind: 'device', path: '/dev/sdb' }, inventory, 'empty')).toMatchObject({ action: 'format', device: '/dev/sdb1' });
    // A finished cache filesystem elsewhere wins; a partition merely named so on another disk is not
    // touched when the operator names a disk.
    expect(decideCache(auto, [...inventory, entry('sdc', gpt), entry('sdc1', cacheFs)], 'empty')).toMatchObject({ action: 'mount', device: '/dev/sdc1' });
    expect(decideCache({ kind: 'device', path: '/dev/sda' }, inventory, 'wipe')).toMatchObject({ action: 'partition', disk: '/dev/sda' });
  });

  it('a read-only partition named B2C_CACHE is not formatted', () => {
    const inventory = [entry('sda', gpt), entry('sda1', blank, { partitionLabel: 'B2C_CACHE', readOnly: true })];
    expect(decideCache(auto, inventory, 'empty')).toMatchObject({ action: 'ram' });
  });

  it('auto without one wipes the first suitable disk, as boot2container does, naming what it held', () => {
    const decision = decideCache(auto, [entry('sda', gpt), entry('sda1', otherFs)], 'wipe');
    expect(decision).toMatchObject({ action: 'partition', disk: '/dev/sda' });
    expect(decision.reason).toContain('a GPT partition table');
  });

  it('auto never takes an optical, read-only, virtual, tiny or bootable disk', () => {
    const inventory = [
      entry('sr0', blank, { kind: 'disk', disk: 'sr0', cdrom: true }),
      entry('loop0', blank, { kind: 'disk', disk: 'loop0', virtual: true }),
      entry('mmcblk0boot0', blank, { kind: 'disk', disk: 'mmcblk0boot0', readOnly: true }),
      entry('vda', blank, { sizeBytes: 64 * 1024 ** 2 }),
      entry('nvme0n1', { kind: 'gpt', bootable: true }, { kind: 'disk', disk: 'nvme0n1' }),
      entry('nvme0n1p1', { kind: 'vfat', label: 'ESP' }, { disk: 'nvme0n1' }),
      entry('sdc', { kind: 'mbr', bootable: false }),
      entry('sdc1', { kind: 'mbr', bootable: true }, { disk: 'sdc' }),
    ];
    const decision = decideCache(auto, inventory, 'wipe');
    expect(decision.action).toBe('ram');
    for (const why of ['optical', 'virtual', 'read-only', 'smaller than 512 MiB', 'EFI system partition', 'bootable partition']) expect(decision.reason).toContain(why);
  });

  it('the empty policy only takes a blank disk and leaves one with data alone', () => {
    const withData = [entry('sda', gpt), entry('sda1', otherFs), entry('sdb', blank)];
    expect(decideCache(auto, withData, 'empty')).toMatchObject({ action: 'partition', disk: '/dev/sdb' });
    const decision = decideCache(auto, [entry('sda', gpt), entry('sda1', otherFs)], 'empty');
    expect(decision).toMatchObject({ action: 'ram' });
    expect(decision.reason).toContain('b2c.cache_auto=empty keeps it');
    // Blank bytes but partitions listed by the kernel: not blank.
    expect(decideCache(auto, [entry('sda', blank), entry('sda1', blank)], 'empty').action).toBe('ram');
  });

  it('reset reformats the B2C_CACHE partition, or starts over like auto', () => {
    expect(decideCache({ kind: 'reset' }, [entry('sda', gpt), entry('sda1', otherFs), entry('sda2', cacheFs)], 'wipe')).toMatchObject({ action: 'format', device: '/dev/sda2' });
    expect(decideCache({ kind: 'reset' }, [entry('sda', blank)], 'wipe')).toMatchObject({ action: 'partition', disk: '/dev/sda' });
  });

  it('/dev/PARTITION: formatted only without a filesystem label; any label is mounted as it is (boot2container\'s try_to_use_cache_device)', () => {
    const device = (path: string): CacheDevice => ({ kind: 'device', path });
    const labelled: [DeviceContent, string][] = [
      [otherFs, 'ext4'],
      [{ kind: 'vfat', label: 'DATA' }, 'auto'],
      [{ kind: 'swap', label: 'swap0' }, 'auto'],
    ];
    for (const [content, fstype] of labelled) {
      const decision = decideCache(device('/dev/sda1'), [entry('sda', gpt), entry('sda1', content)], 'wipe');
      expect(decision).toMatchObject({ action: 'mount-as-is', device: '/dev/sda1', fstype });
      expect(decision.reason).toContain(`labelled ${content.label ?? ''}`);
      expect(decision.reason).toContain('never formatted');
    }
    // What ocinit cannot read (no blkid in the initramfs) may carry a label: never formatted either.
    expect(decideCache(device('/dev/sda1'), [entry('sda', gpt), entry('sda1', { kind: 'unknown' })], 'wipe')).toMatchObject({ action: 'mount-as-is', fstype: 'auto' });
    const unlabelled: DeviceContent[] = [blank, { kind: 'ext', label: '' }, { kind: 'ext' }, { kind: 'vfat', label: '' }, { kind: 'swap', label: '' }];
    for (const content of unlabelled) {
      expect(decideCache(device('/dev/sda1'), [entry('sda', gpt), entry('sda1', content)], 'wipe'), JSON.stringify(content)).toMatchObject({ action: 'format', device: '/dev/sda1' });
    }
    expect(decideCache(device('/dev/sda1'), [entry('sda', gpt), entry('sda1', cacheFs)], 'wipe')).toMatchObject({ action: 'mount', device: '/dev/sda1' });
  });

  it('/dev/X: a labelled device is mounted, a disk searched then repartitioned', () => {
    const inventory = [entry('sda', gpt), entry('sda1', otherFs), entry('sdb', gpt), entry('sdb1', otherFs), entry('sdb2', cacheFs)];
    const device = (path: string): CacheDevice => ({ kind: 'device', path });
    expect(decideCache(device('/dev/sdb2'), inventory, 'wipe')).toMatchObject({ action: 'mount', device: '/dev/sdb2' });
    expect(decideCache(device('/dev/sda1'), inventory, 'wipe')).toMatchObject({ action: 'mount-as-is', device: '/dev/sda1' });
    expect(decideCache(device('/dev/sdb'), inventory, 'wipe')).toMatchObject({ action: 'mount', device: '/dev/sdb2' });
    expect(decideCache(device('/dev/sda'), inventory, 'wipe')).toMatchObject({ action: 'partition', disk: '/dev/sda' });
    expect(decideCache(device('/dev/sdz'), inventory, 'wipe')).toMatchObject({ action: 'ram', reason: '/dev/sdz does not exist' });
    expect(decideCache(device('/dev/sdc'), [entry('sdc', blank, { readOnly: true })], 'wipe')).toMatchObject({ action: 'ram' });
  });

  it('none keeps everything in RAM', () => {
    expect(decideCache({ kind: 'none' }, [entry('sda', blank)], 'wipe').action).toBe('ram');
  });
});
