// The cache's layout under its mount point, its versioned metadata, and the clean-up done at every
// mount so that nothing an interrupted boot left half-written is ever used.
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { parseDigest } from '../digest/digest.ts';
import { ContentStore } from '../store/index.ts';
import { OCINIT_VERSION } from '../version.ts';
import { fsyncDirectory, TEMP_SUFFIX, writeFileAtomic } from './atomic.ts';

export const CACHE_FORMAT = 'ocinit-cache';
/** Bump when the layout changes; `readMetadata` then knows an old cache needs migrating. */
export const CACHE_LAYOUT_VERSION = 1;

export interface CacheMetadata {
  format: typeof CACHE_FORMAT;
  version: number;
  createdBy: string;
  createdAt: string;
}

export interface CacheLayout {
  root: string;
  metadataFile: string;
  /** ContentStore root: verified blobs and refs (tag → digest). */
  storeDir: string;
  /** Named volumes, one directory each; they persist across boots. */
  volumesDir: string;
  /** Unpacked images (one directory per manifest digest); dropped after an unclean shutdown. */
  imagesDir: string;
  /** Per-boot: emptied at every mount. */
  scratchDir: string;
  /** Present only between a clean shutdown and the next mount. */
  cleanMarker: string;
  /** Last-use times of images, for garbage collection. */
  usageDir: string;
  swapFile: string;
}

export function cacheLayout(root: string): CacheLayout {
  return {
    root,
    metadataFile: join(root, 'ocinit-cache.json'),
    storeDir: join(root, 'store'),
    volumesDir: join(root, 'volumes'),
    imagesDir: join(root, 'images'),
    scratchDir: join(root, 'scratch'),
    cleanMarker: join(root, 'clean-shutdown'),
    usageDir: join(root, 'usage'),
    swapFile: join(root, 'swapfile'),
  };
}

export type MetadataState = { kind: 'missing' } | { kind: 'current'; metadata: CacheMetadata } | { kind: 'newer'; version: number } | { kind: 'unreadable'; detail: string };

export function parseMetadata(text: string): MetadataState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: 'unreadable', detail: (error as Error).message };
  }
  if (typeof value !== 'object' || value === null) return { kind: 'unreadable', detail: 'not a JSON object' };
  const record = value as Record<string, unknown>;
  if (record['format'] !== CACHE_FORMAT || typeof record['version'] !== 'number' || !Number.isInteger(record['version'])) {
    return { kind: 'unreadable', detail: `not an ${CACHE_FORMAT} metadata file` };
  }
  if (record['version'] > CACHE_LAYOUT_VERSION) return { kind: 'newer', version: record['version'] };
  return {
    kind: 'current',
    metadata: {
      format: CACHE_FORMAT,
      version: record['version'],
      createdBy: typeof record['createdBy'] === 'string' ? record['createdBy'] : 'unknown',
      createdAt: typeof record['createdAt'] === 'string' ? record['createdAt'] : 'unknown',
    },
  };
}

export async function readMetadata(layout: CacheLayout): Promise<MetadataState> {
  const text = await readFile(layout.metadataFile, 'utf8').catch(() => undefined);
  return text === undefined ? { kind: 'missing' } : parseMetadata(text);
}

async function removeTempFiles(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const leftovers = names.filter((name) => name.endsWith(TEMP_SUFFIX));
  await Promise.all(leftovers.map((name) => rm(join(dir, name), { force: true })));
  return leftovers.length;
}

async function emptyDirectory(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  return names.length;
}

/** Hashes every stored blob; those that do not match their digest are deleted. Returns their digests. */
export async function verifyStore(storeDir: string, log: Logger): Promise<{ checked: number; discarded: string[] }> {
  const store = new ContentStore(storeDir);
  const discarded: string[] = [];
  const blobs = await store.listBlobs();
  for (const digest of blobs) {
    try {
      parseDigest(digest);
    } catch {
      // A file name that is no digest at all: nothing can ever ask for it.
      await rm(join(storeDir, 'blobs', ...digest.split(':')), { force: true });
      discarded.push(digest);
      continue;
    }
    // An unreadable blob (I/O error after a crash) is treated like a mismatch.
    if (!(await store.verify(digest))) {
      log.warn(`cache: blob ${digest} does not match its digest: discarded (it will be downloaded again when needed)`);
      await store.discard(digest);
      discarded.push(digest);
    }
  }
  return { checked: blobs.length, discarded };
}

/**
 * Records a clean shutdown. Call after everything is synced: the next mount then trusts the
 * unpacked images (their files were never fsynced one by one, so a power cut can leave them torn).
 */
export async function markCleanShutdown(layout: CacheLayout): Promise<void> {
  await writeFileAtomic(layout.cleanMarker, `${new Date().toISOString()}\n`);
}

/** Removes the marker (durably) and says whether it was there. */
async function takeCleanMarker(layout: CacheLayout): Promise<boolean> {
  const clean = await stat(layout.cleanMarker).then(
    () => true,
    () => false,
  );
  if (clean) {
    await rm(layout.cleanMarker, { force: true });
    await fsyncDirectory(layout.root);
  }
  return clean;
}

export interface PrepareReport {
  created: boolean;
  /** The previous session ended with a clean shutdown (or there was none). */
  cleanShutdown: boolean;
  leftoversRemoved: number;
  verified?: { checked: number; discarded: string[] };
}

/**
 * Makes `root` a usable cache: checks the metadata version (a newer layout is refused untouched),
 * creates the directories, removes what interrupted writes left behind and, with `verify`, re-hashes
 * every blob.
 */
export async function prepareLayout(layout: CacheLayout, log: Logger, options: { verify: boolean }): Promise<PrepareReport> {
  const state = await readMetadata(layout);
  if (state.kind === 'newer') {
    throw new OcinitError(`the cache at ${layout.root} has layout version ${state.version}, newer than this ocinit's ${CACHE_LAYOUT_VERSION}; it was left untouched`, {
      parameter: 'b2c.cache_device',
      hint: 'boot the newer ocinit, or reformat the cache with b2c.cache_device=reset',
    });
  }
  if (state.kind === 'unreadable') log.warn(`cache: ${layout.metadataFile} is unreadable (${state.detail}); writing a new one`);
  const created = state.kind !== 'current';
  if (created) {
    const metadata: CacheMetadata = { format: CACHE_FORMAT, version: CACHE_LAYOUT_VERSION, createdBy: `ocinit ${OCINIT_VERSION}`, createdAt: new Date().toISOString() };
    await writeFileAtomic(layout.metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
  }
  const cleanShutdown = (await takeCleanMarker(layout)) || created;
  if (!cleanShutdown) {
    // Blobs are fsynced before they are renamed into place, unpacked trees are not: rebuild them.
    log.warn('cache: the previous session did not shut down cleanly (power cut?): unpacked images are discarded and rebuilt from the verified blobs');
    await rm(layout.imagesDir, { recursive: true, force: true });
  }
  for (const dir of [layout.storeDir, layout.volumesDir, layout.imagesDir, layout.scratchDir, layout.usageDir]) await mkdir(dir, { recursive: true });

  let leftoversRemoved = 0;
  leftoversRemoved += await emptyDirectory(join(layout.storeDir, 'tmp'));
  leftoversRemoved += await emptyDirectory(layout.scratchDir);
  for (const dir of [layout.root, layout.usageDir, join(layout.storeDir, 'refs')]) leftoversRemoved += await removeTempFiles(dir);
  // ContentStore.setRef writes `<ref>.<pid>.<n>` beside the ref before renaming it.
  const refs = await readdir(join(layout.storeDir, 'refs')).catch(() => [] as string[]);
  for (const name of refs.filter((ref) => /\.\d+\.\d+$/.test(ref))) {
    await rm(join(layout.storeDir, 'refs', name), { force: true });
    leftoversRemoved++;
  }
  // unpackImage stages into `.<target>.ocinit-XXXXXX` beside the target.
  const staging = (await readdir(layout.imagesDir)).filter((name) => /^\..*\.ocinit-/.test(name));
  await Promise.all(staging.map((name) => rm(join(layout.imagesDir, name), { recursive: true, force: true })));
  leftoversRemoved += staging.length;
  if (leftoversRemoved > 0) log.info(`cache: removed ${leftoversRemoved} leftover(s) of interrupted writes or of the previous boot's scratch`);

  const report: PrepareReport = { created, cleanShutdown, leftoversRemoved };
  if (options.verify) {
    report.verified = await verifyStore(layout.storeDir, log);
    log.info(`cache: re-verified ${report.verified.checked} blob(s), discarded ${report.verified.discarded.length}`);
  }
  return report;
}
