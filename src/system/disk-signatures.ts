// What the first bytes of a block device say about it: a filesystem and its label, a partition
// table and whether it holds an EFI system partition, or nothing at all. Pure functions over a
// buffer, so they are tested on the host without devices (the initramfs ships no blkid).

/** Bytes to read from the start of a device for `describeContent`. */
export const PROBE_BYTES = 1024 * 1024;

export type ContentKind = 'empty' | 'ext' | 'swap' | 'vfat' | 'gpt' | 'mbr' | 'unknown';

export interface DeviceContent {
  kind: ContentKind;
  /** Filesystem or swap label, when it has one. */
  label?: string;
  /** Partition tables only: one of the partitions is an EFI system partition (or MBR-bootable). */
  bootable?: boolean;
}

const EXT_SUPERBLOCK = 1024;
const EXT_MAGIC = 0xef53;
const ESP_GUID = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const SECTOR = 512;

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

/** A mixed-endian GPT GUID as text. */
export function formatGuid(bytes: Buffer): string {
  const hex = (from: number, to: number): string => bytes.subarray(from, to).toString('hex');
  const reversed = (from: number, to: number): string => Buffer.from(bytes.subarray(from, to)).reverse().toString('hex');
  return `${reversed(0, 4)}-${reversed(4, 6)}-${reversed(6, 8)}-${hex(8, 10)}-${hex(10, 16)}`;
}

function gptHasEsp(head: Buffer): boolean {
  const header = head.subarray(SECTOR, 2 * SECTOR);
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  if (entrySize < 128 || count > 1024) return false;
  for (let index = 0; index < count; index++) {
    const offset = entriesLba * SECTOR + index * entrySize;
    if (offset + 16 > head.length) break;
    if (formatGuid(head.subarray(offset, offset + 16)) === ESP_GUID) return true;
  }
  return false;
}

function mbrIsBootable(head: Buffer): boolean {
  for (let index = 0; index < 4; index++) {
    const entry = head.subarray(446 + index * 16, 446 + (index + 1) * 16);
    if (entry[0] === 0x80 || entry[4] === 0xef) return true;
  }
  return false;
}

function fatLabel(head: Buffer): string | undefined {
  if (head.toString('latin1', 82, 87) === 'FAT32') return head.toString('latin1', 71, 82).trim();
  if (/^FAT1[26]/.test(head.toString('latin1', 54, 59))) return head.toString('latin1', 43, 54).trim();
  return undefined;
}

/** Classifies a device from its first bytes (at least 64 KiB; `PROBE_BYTES` to tell "empty" reliably). */
export function describeContent(head: Buffer): DeviceContent {
  if (head.length >= EXT_SUPERBLOCK + 136 && head.readUInt16LE(EXT_SUPERBLOCK + 56) === EXT_MAGIC) {
    return { kind: 'ext', label: cString(head.subarray(EXT_SUPERBLOCK + 120, EXT_SUPERBLOCK + 136)) };
  }
  if (head.length >= 4096 && head.toString('latin1', 4086, 4096) === 'SWAPSPACE2') {
    return { kind: 'swap', label: cString(head.subarray(1024 + 28, 1024 + 44)) };
  }
  const bootSignature = head.length >= SECTOR && head[510] === 0x55 && head[511] === 0xaa;
  if (head.length >= 2 * SECTOR && head.toString('latin1', SECTOR, SECTOR + 8) === 'EFI PART') {
    return { kind: 'gpt', bootable: gptHasEsp(head) };
  }
  if (bootSignature) {
    const label = fatLabel(head);
    if (label !== undefined) return { kind: 'vfat', label };
    return { kind: 'mbr', bootable: mbrIsBootable(head) };
  }
  return head.every((byte) => byte === 0) ? { kind: 'empty' } : { kind: 'unknown' };
}
