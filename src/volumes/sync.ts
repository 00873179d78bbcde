// One mirror run between a volume directory and an S3 prefix: list both sides, decide with
// mirror.ts, then transfer (several files at once, each streamed) and report what did not make it.
import { lstat, mkdir, readdir, rm, chmod, chown, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { MirrorTarget } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';
import { sleep } from '../oci/http-client.ts';
import type { S3Client } from '../s3/client.ts';
import { decideMirror, excluder, formatAttributes, keyFor, parseAttributes, pathFor, safeRelativePath, type MirrorEntry, type MirrorRules } from './mirror.ts';

export interface SyncOptions extends MirrorRules {
  /** mcli -a: keep mode, owner and mtime in the objects' `mc-attrs` metadata, and restore them. */
  preserve: boolean;
  /** Files in flight at once (default 8). */
  concurrency?: number;
  /** Pause before the failed transfers get their second round (default 1 s). */
  retryDelayMs?: number;
  log?: Logger;
}

export interface FailedTransfer {
  path: string;
  error: unknown;
}

export interface SyncResult {
  transferred: string[];
  removed: string[];
  conflicts: string[];
  failed: FailedTransfer[];
}

const PARTIAL_SUFFIX = '.ocinit-partial';
const ATTRIBUTES = 'mc-attrs';

/** Every regular file under `dir` (symbolic links and special files are not mirrored, as with mcli). */
export async function scanDirectory(dir: string): Promise<MirrorEntry[]> {
  const entries: MirrorEntry[] = [];
  const walk = async (relative: string): Promise<void> => {
    const names = await readdir(join(dir, relative)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const name of names.sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const info = await lstat(join(dir, path)).catch(() => undefined);
      if (info === undefined) continue;
      if (info.isDirectory()) await walk(path);
      else if (info.isFile() && !name.endsWith(PARTIAL_SUFFIX)) entries.push({ path, size: info.size, mtimeMs: info.mtimeMs });
    }
  };
  await walk('');
  return entries;
}

export async function listRemote(client: S3Client, target: MirrorTarget): Promise<MirrorEntry[]> {
  const prefix = target.path.replace(/^\/+|\/+$/g, '');
  const entries: MirrorEntry[] = [];
  for await (const object of client.list(target.bucket, prefix === '' ? '' : `${prefix}/`)) {
    const path = pathFor(prefix, object.key);
    if (path !== undefined) entries.push({ path, size: object.size, mtimeMs: object.lastModified.getTime() });
  }
  return entries;
}

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Transfers `paths`, retrying the failed ones once after a pause; returns those that still failed. */
async function transferAll(paths: readonly string[], options: SyncOptions, transfer: (path: string) => Promise<void>): Promise<FailedTransfer[]> {
  let failed: FailedTransfer[] = [];
  const round = async (batch: readonly string[]): Promise<void> => {
    failed = [];
    await inParallel(batch, options.concurrency ?? 8, async (path) => {
      try {
        await transfer(path);
      } catch (error) {
        failed.push({ path, error });
      }
    });
  };
  await round(paths);
  if (failed.length > 0) {
    options.log?.warn(`${failed.length} transfer(s) failed; retrying them once`);
    await sleep(options.retryDelayMs ?? 1000);
    await round(failed.map((item) => item.path));
  }
  return failed.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Volume → bucket. */
export async function push(client: S3Client, dir: string, target: MirrorTarget, options: SyncOptions): Promise<SyncResult> {
  const [local, remote] = await Promise.all([scanDirectory(dir), listRemote(client, target)]);
  const decision = decideMirror(local, remote, options);
  const failed = await transferAll(decision.transfer, options, async (path) => {
    const metadata: Record<string, string> = {};
    if (options.preserve) {
      const info = await lstat(join(dir, path));
      metadata[ATTRIBUTES] = formatAttributes({ mode: info.mode, mtimeSeconds: Math.floor(info.mtimeMs / 1000), uid: info.uid, gid: info.gid });
    }
    await client.putFile(target.bucket, keyFor(target.path, path), join(dir, path), metadata);
  });
  const removeFailed = await transferAll(decision.remove, options, (path) => client.delete(target.bucket, keyFor(target.path, path)));
  const failedPaths = new Set([...failed, ...removeFailed].map((item) => item.path));
  return {
    transferred: decision.transfer.filter((path) => !failedPaths.has(path)),
    removed: decision.remove.filter((path) => !failedPaths.has(path)),
    conflicts: decision.conflicts,
    failed: [...failed, ...removeFailed],
  };
}

/** Bucket → volume. Keys that cannot be paths inside the volume (`..`, absolute) are refused. */
export async function pull(client: S3Client, dir: string, source: MirrorTarget, options: SyncOptions): Promise<SyncResult> {
  const [remoteAll, local] = await Promise.all([listRemote(client, source), scanDirectory(dir)]);
  const unsafe = remoteAll.filter((entry) => safeRelativePath(entry.path) === undefined && !entry.path.endsWith('/'));
  const remote = remoteAll.filter((entry) => safeRelativePath(entry.path) !== undefined);
  const decision = decideMirror(remote, local, options);
  const failed = await transferAll(decision.transfer, options, async (path) => {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    const head = await client.getToFile(source.bucket, keyFor(source.path, path), file);
    const attributes = options.preserve && head.metadata[ATTRIBUTES] !== undefined ? parseAttributes(head.metadata[ATTRIBUTES]) : {};
    if (attributes.mode !== undefined) await chmod(file, attributes.mode & 0o7777);
    if (attributes.uid !== undefined && attributes.gid !== undefined) await chown(file, attributes.uid, attributes.gid).catch(() => undefined);
    // Without a preserved mtime the file takes the object's date, so the next pull sees it unchanged.
    const seconds = attributes.mtimeSeconds ?? head.lastModified.getTime() / 1000;
    await utimes(file, seconds, seconds);
  });
  const excluded = excluder(options.exclude);
  const removeFailed = await transferAll(
    decision.remove.filter((path) => !excluded(path)),
    options,
    (path) => rm(join(dir, path), { force: true }),
  );
  return {
    transferred: decision.transfer.filter((path) => !failed.some((item) => item.path === path)),
    removed: decision.remove.filter((path) => !removeFailed.some((item) => item.path === path)),
    conflicts: decision.conflicts,
    failed: [...failed, ...removeFailed, ...unsafe.map((entry) => ({ path: entry.path, error: new Error('this key cannot be a file inside the volume (absolute, .. or empty segment)') }))],
  };
}
