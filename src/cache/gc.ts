// Space on the cache: a last-use record per image, and collection of the least recently used
// images (their unpacked trees and the blobs nothing else needs) when free space runs low.
import { readdir, readFile, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { CacheSettings } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';
import { parseDigest } from '../digest/digest.ts';
import type { ContentStore } from '../store/index.ts';
import { removeVerityImage } from '../verity/image.ts';
import { writeFileAtomic } from './atomic.ts';

export interface UsageRecord {
  /** The reference as the job wrote it. */
  reference: string;
  /** What the reference resolved to (an index or a manifest): the store's root for this image. */
  topDigest: string;
  manifestDigest: string;
  /** Milliseconds since the epoch. */
  lastUsed: number;
}

function recordName(manifestDigest: string): string {
  const { algorithm, hex } = parseDigest(manifestDigest);
  return `${algorithm}-${hex}.json`;
}

/** Where the pipeline unpacks an image (src/run names it after the manifest digest). */
export function unpackedImageDir(imagesDir: string, manifestDigest: string): string {
  return join(imagesDir, manifestDigest.replace(':', '-'));
}

export async function recordUse(usageDir: string, record: UsageRecord): Promise<void> {
  await writeFileAtomic(join(usageDir, recordName(record.manifestDigest)), `${JSON.stringify(record)}\n`);
}

function parseRecord(text: string): UsageRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<UsageRecord>;
    if (typeof value.reference !== 'string' || typeof value.topDigest !== 'string' || typeof value.manifestDigest !== 'string' || typeof value.lastUsed !== 'number') return undefined;
    parseDigest(value.topDigest);
    parseDigest(value.manifestDigest);
    return { reference: value.reference, topDigest: value.topDigest, manifestDigest: value.manifestDigest, lastUsed: value.lastUsed };
  } catch {
    return undefined;
  }
}

export async function readUsage(usageDir: string): Promise<UsageRecord[]> {
  const names = (await readdir(usageDir).catch(() => [] as string[])).filter((name) => name.endsWith('.json'));
  const records = await Promise.all(names.map(async (name) => parseRecord(await readFile(join(usageDir, name), 'utf8').catch(() => ''))));
  return records.filter((record): record is UsageRecord => record !== undefined);
}

/** Images that may go, least recently used first; what this boot uses is never among them. */
export function evictionOrder(records: readonly UsageRecord[], inUse: ReadonlySet<string>): UsageRecord[] {
  return records.filter((record) => !inUse.has(record.manifestDigest) && !inUse.has(record.topDigest)).sort((a, b) => a.lastUsed - b.lastUsed);
}

export interface SpaceInfo {
  freeBytes: number;
  totalBytes: number;
}

export async function spaceOf(path: string): Promise<SpaceInfo> {
  const info = await statfs(path);
  return { freeBytes: info.bavail * info.bsize, totalBytes: info.blocks * info.bsize };
}

export function minFreeBytes(minFree: CacheSettings['minFree'], totalBytes: number): number {
  return 'bytes' in minFree ? minFree.bytes : Math.ceil((totalBytes * minFree.percent) / 100);
}

export interface CollectOptions {
  root: string;
  usageDir: string;
  imagesDir: string;
  store: ContentStore;
  /** Manifest (or top) digests this boot uses: never collected. */
  inUse: ReadonlySet<string>;
  /** Free space wanted after collection. */
  wantFreeBytes: number;
  log: Logger;
}

export interface CollectResult {
  removedImages: string[];
  freedBytes: number;
  freeBytes: number;
}

/**
 * Removes the least recently used images not in use (record, unpacked tree, then every blob no
 * remaining image reaches) until `wantFreeBytes` are free or nothing more may go.
 */
export async function collectGarbage(options: CollectOptions): Promise<CollectResult> {
  const { log } = options;
  const before = (await spaceOf(options.root)).freeBytes;
  let free = before;
  const records = await readUsage(options.usageDir);
  const candidates = evictionOrder(records, options.inUse);
  const kept = new Set(records.map((record) => record.topDigest));
  const removedImages: string[] = [];
  const sweep = async (): Promise<void> => {
    const keep = [...kept, ...[...options.inUse].filter((digest) => /^(sha256|sha512):/.test(digest))];
    await options.store.gc(keep);
    free = (await spaceOf(options.root)).freeBytes;
  };
  // Blobs no image record reaches (an interrupted pull's layers) go first.
  await sweep();
  for (const victim of candidates) {
    if (free >= options.wantFreeBytes) break;
    kept.delete(victim.topDigest);
    await rm(join(options.usageDir, recordName(victim.manifestDigest)), { force: true });
    await rm(unpackedImageDir(options.imagesDir, victim.manifestDigest), { recursive: true, force: true });
    await removeVerityImage(options.imagesDir, victim.manifestDigest);
    await sweep();
    removedImages.push(`${victim.reference} (${victim.manifestDigest}, last used ${new Date(victim.lastUsed).toISOString()})`);
    log.info(`cache: removed ${victim.reference} (last used ${new Date(victim.lastUsed).toISOString()}) to make room`);
  }
  return { removedImages, freedBytes: Math.max(0, free - before), freeBytes: free };
}
