// Block devices as the kernel lists them in sysfs, and what they contain.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describeContent, PROBE_BYTES, type DeviceContent } from './disk-signatures.ts';

export interface BlockDevice {
  /** Kernel name: vda, vda1, nvme0n1p2, sr0. */
  name: string;
  /** /dev/NAME */
  path: string;
  kind: 'disk' | 'partition';
  /** The whole disk this is, or is a partition of. */
  disk: string;
  sizeBytes: number;
  readOnly: boolean;
  removable: boolean;
  /** Optical drives: never a cache. */
  cdrom: boolean;
  /** Loop, RAM, zram, device-mapper, md, nbd: not a disk of this machine. */
  virtual: boolean;
  /** A GPT partition's name (the kernel's PARTNAME), when it has one. */
  partitionLabel?: string;
}

const VIRTUAL = /^(loop|ram|zram|dm-|md|nbd|fd|mtdblock)/;

function readNumber(path: string): number {
  try {
    return Number.parseInt(readFileSync(path, 'utf8').trim(), 10) || 0;
  } catch {
    return 0;
  }
}

function describeDevice(sysRoot: string, name: string): BlockDevice {
  const dir = join(sysRoot, 'class/block', name);
  const isPartition = existsSync(join(dir, 'partition'));
  // /sys/class/block/vda1 -> ../../devices/.../block/vda/vda1: the parent directory is the disk.
  const disk = isPartition ? basename(join(readlinkSync(dir), '..')) : name;
  const diskDir = join(sysRoot, 'class/block', disk);
  return {
    name,
    path: `/dev/${name}`,
    kind: isPartition ? 'partition' : 'disk',
    disk,
    sizeBytes: readNumber(join(dir, 'size')) * 512,
    readOnly: readNumber(join(dir, 'ro')) === 1,
    removable: readNumber(join(diskDir, 'removable')) === 1,
    cdrom: /^sr\d/.test(disk) || readNumber(join(diskDir, 'device/type')) === 5,
    virtual: VIRTUAL.test(disk),
    ...(isPartition ? partitionLabel(dir) : {}),
  };
}

function partitionLabel(dir: string): { partitionLabel?: string } {
  let uevent = '';
  try {
    uevent = readFileSync(join(dir, 'uevent'), 'utf8');
  } catch {
    return {};
  }
  const label = /^PARTNAME=(.*)$/m.exec(uevent)?.[1];
  return label === undefined || label === '' ? {} : { partitionLabel: label };
}

/** Every block device, disks before their partitions, in the kernel's name order (vda before vdb). */
export function listBlockDevices(sysRoot = '/sys'): BlockDevice[] {
  let names: string[];
  try {
    names = readdirSync(join(sysRoot, 'class/block'));
  } catch {
    return [];
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return names
    .map((name) => describeDevice(sysRoot, name))
    .sort((a, b) => collator.compare(a.disk, b.disk) || (a.kind === b.kind ? collator.compare(a.name, b.name) : a.kind === 'disk' ? -1 : 1));
}

/** Reads the start of a device and classifies it; an unreadable device is 'unknown'. */
export async function readDeviceContent(path: string): Promise<DeviceContent> {
  let handle;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(PROBE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, PROBE_BYTES, 0);
    return describeContent(buffer.subarray(0, bytesRead));
  } catch {
    return { kind: 'unknown' };
  } finally {
    await handle?.close();
  }
}

/** The /dev name of partition `number` of `disk` (vda → vda1, nvme0n1 → nvme0n1p1). */
export function partitionName(disk: string, number: number): string {
  return /\d$/.test(disk) ? `${disk}p${number}` : `${disk}${number}`;
}

/** Polls `check` every `intervalMs` until it returns a value or `timeoutMs` passed. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A device number (stat's rdev) as the kernel's major and minor (glibc's encoding). */
export function deviceMajorMinor(rdev: number): { major: number; minor: number } {
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((Math.floor(rdev / 4096) & 0xfff00) >>> 0) };
}
