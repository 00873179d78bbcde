// Disk images for cache tests, built and inspected on the host with the same Debian tools the
// initramfs ships (sfdisk, mke2fs) plus debugfs, which reads and writes ext4 inside an image
// without mounting it.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import { describeContent, type DeviceContent } from '../../../src/system/disk-signatures.ts';

export const SECTOR = 512;

export interface ImagePartition {
  start: number;
  size: number;
  type: string;
  /** GPT partition name, when it has one. */
  name?: string;
}

export function createBlankImage(path: string, bytes: number): void {
  writeFileSync(path, '');
  truncateSync(path, bytes);
}

/** Runs sfdisk on the image with `script` (e.g. `label: gpt\n,64M,L\n,,L\n`). */
export function partitionImage(path: string, script: string): void {
  execFileSync('sfdisk', ['--quiet', path], { input: script });
}

export function listPartitions(path: string): ImagePartition[] {
  let text: string;
  try {
    text = execFileSync('sfdisk', ['-J', path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return [];
  }
  const parsed = JSON.parse(text) as { partitiontable: { partitions?: ImagePartition[] } };
  return parsed.partitiontable.partitions ?? [];
}

/** The byte offset of partition `number` (1-based). */
export function partitionOffset(path: string, number: number): number {
  const partition = listPartitions(path)[number - 1];
  if (partition === undefined) throw new Error(`${path} has no partition ${number}`);
  return partition.start * SECTOR;
}

export function formatExt4At(path: string, offset: number, bytes: number, label: string): void {
  execFileSync('mke2fs', ['-t', 'ext4', '-q', '-F', '-L', label, '-E', `offset=${offset}`, path, `${Math.floor(bytes / 1024)}k`]);
}

/** What a probe of the device at `offset` sees (the code under test's own classifier). */
export function contentAt(path: string, offset: number): DeviceContent {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    const read = readSync(fd, buffer, 0, buffer.length, offset);
    return describeContent(buffer.subarray(0, read));
  } finally {
    closeSync(fd);
  }
}

function debugfs(path: string, offset: number, request: string, write = false): string {
  return execFileSync('debugfs', [...(write ? ['-w'] : []), '-R', request, `${path}?offset=${offset}`], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

/** A file's content inside the ext4 at `offset`, or undefined when it does not exist. */
export function readImageFile(path: string, offset: number, file: string): string | undefined {
  const listing = debugfs(path, offset, `stat ${file}`);
  if (!listing.includes('Inode:')) return undefined;
  return debugfs(path, offset, `cat ${file}`);
}

export function listImageDirectory(path: string, offset: number, dir: string): string[] {
  return debugfs(path, offset, `ls -l ${dir}`)
    .split('\n')
    .map((line) => line.trim().split(/\s+/).at(-1) ?? '')
    .filter((name) => name !== '' && name !== '.' && name !== '..');
}

/** Copies a host file into the ext4 at `offset`. */
export function writeImageFile(path: string, offset: number, hostFile: string, file: string): void {
  debugfs(path, offset, `write ${hostFile} ${file}`, true);
}

/** Checks the ext4 at `offset` read-only; true when e2fsck finds it clean. */
export function ext4IsClean(path: string, offset: number): boolean {
  try {
    execFileSync('e2fsck', ['-fn', `${path}?offset=${offset}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
