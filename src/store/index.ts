import { createReadStream, type ReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { OcinitError } from '../log/errors.ts';
import { DigestVerifier, parseDigest } from '../digest/digest.ts';
import { mismatch } from '../digest/mismatch.ts';
import { runChecked } from '../system/exec.ts';

/** A file-system failure of the store itself (full disk, permissions): never worth retrying a download for. */
export class StoreError extends OcinitError {
  override readonly code: string = 'OCINIT_STORE';
}

function storeFailure(what: string, rootDir: string, error: unknown): StoreError {
  const code = (error as { code?: unknown }).code;
  return new StoreError(`cannot ${what} in the content store ${rootDir}: ${(error as Error).message}`, {
    cause: error,
    hint: code === 'ENOSPC' ? 'the cache device is full: free space or collect unused images' : 'check the store directory (--store) is writable',
  });
}

/**
 * A blob being written into the store: bytes are hashed as they arrive, and `commit()` makes it
 * visible under its digest only when digest and size matched (temp file, fsync, rename).
 */
export class BlobWriter {
  readonly digest: string;
  readonly #expectedSize: number;
  readonly #tempPath: string;
  readonly #finalPath: string;
  readonly #handle: FileHandle;
  #verifier: DigestVerifier;

  constructor(digest: string, expectedSize: number, tempPath: string, finalPath: string, handle: FileHandle) {
    this.digest = digest;
    this.#expectedSize = expectedSize;
    this.#tempPath = tempPath;
    this.#finalPath = finalPath;
    this.#handle = handle;
    this.#verifier = new DigestVerifier(parseDigest(digest));
  }

  get size(): number {
    return this.#verifier.size;
  }

  /** Appends bytes; throws (without writing) when they would exceed the descriptor's size. */
  async write(chunks: Buffer | readonly Buffer[]): Promise<void> {
    const list = Buffer.isBuffer(chunks) ? [chunks] : chunks;
    const length = list.reduce((sum, chunk) => sum + chunk.length, 0);
    if (this.#verifier.size + length > this.#expectedSize) {
      throw mismatch(this.digest, 'blob', `${this.#expectedSize} bytes`, `more than that`);
    }
    const position = this.#verifier.size;
    for (const chunk of list) this.#verifier.update(chunk);
    try {
      // One writev per batch: a thread-pool round trip per network chunk (64 kB) costs main-thread time.
      const { bytesWritten } = await this.#handle.writev(list, position);
      // A short write (the disk filling up) is retried for the rest, which then fails with the real error.
      let chunkStart = 0;
      for (const chunk of list) {
        for (let offset = Math.max(bytesWritten - chunkStart, 0); offset < chunk.length; ) {
          const retried = await this.#handle.write(chunk, offset, chunk.length - offset, position + chunkStart + offset);
          if (retried.bytesWritten === 0) throw new Error('the file system accepted no bytes');
          offset += retried.bytesWritten;
        }
        chunkStart += chunk.length;
      }
    } catch (error) {
      throw storeFailure(`write blob ${this.digest}`, this.#tempPath, error);
    }
  }

  /**
   * Starts again from byte 0 (a server that ignored a Range request); returns the size and digest of
   * what it discards, for a caller that already used those bytes to compare them with the new ones.
   */
  async restart(): Promise<{ size: number; digest: string }> {
    const discarded = { size: this.#verifier.size, digest: this.#verifier.peek() };
    this.#verifier = new DigestVerifier(parseDigest(this.digest));
    await this.#handle.truncate(0);
    return discarded;
  }

  async commit(image?: string): Promise<void> {
    try {
      if (this.#verifier.size !== this.#expectedSize) throw mismatch(this.digest, 'blob', `${this.#expectedSize} bytes`, `${this.#verifier.size} bytes`, image);
      const actual = this.#verifier.actual();
      if (actual !== this.digest) throw mismatch(this.digest, 'blob', this.digest, actual, image);
      try {
        await this.#handle.datasync();
        await this.#handle.close();
        await rename(this.#tempPath, this.#finalPath);
      } catch (error) {
        throw storeFailure(`commit blob ${this.digest}`, this.#finalPath, error);
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async abort(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
    await rm(this.#tempPath, { force: true });
  }
}

export interface GcResult {
  removed: string[];
  freedBytes: number;
}

/**
 * Content-addressed storage of verified blobs (manifests, configs, layers) under `rootDir`:
 * `blobs/<algorithm>/<hex>`, written through `tmp/` and renamed in place. Anything read back is
 * checked again; an entry that fails is deleted and never used.
 */
export class ContentStore {
  readonly rootDir: string;
  #ready: Promise<void> | undefined;
  #counter = 0;

  constructor(rootDir: string) {
    this.rootDir = rootDir;
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      try {
        for (const dir of [['blobs', 'sha256'], ['blobs', 'sha512'], ['tmp'], ['refs']]) await mkdir(join(this.rootDir, ...dir), { recursive: true });
      } catch (error) {
        this.#ready = undefined;
        throw storeFailure('create the directories', this.rootDir, error);
      }
    })();
    return this.#ready;
  }

  /** Where a blob lives; the digest is validated first so it can never name another path. */
  blobPath(digest: string): string {
    const parsed = parseDigest(digest);
    return join(this.rootDir, 'blobs', parsed.algorithm, parsed.hex);
  }

  /** True when the blob is stored with the expected size (its content is checked when read). */
  async has(digest: string, size: number): Promise<boolean> {
    const info = await stat(this.blobPath(digest)).catch(() => undefined);
    if (info === undefined) return false;
    if (info.size === size) return true;
    await this.discard(digest);
    return false;
  }

  async discard(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async writer(digest: string, size: number): Promise<BlobWriter> {
    await this.#init();
    const finalPath = this.blobPath(digest);
    const tempPath = join(this.rootDir, 'tmp', `${parseDigest(digest).hex}.${process.pid}.${this.#counter++}`);
    const handle = await open(tempPath, 'w', 0o644).catch((error: unknown) => {
      throw storeFailure(`create a file for blob ${digest}`, this.rootDir, error);
    });
    return new BlobWriter(digest, size, tempPath, finalPath, handle);
  }

  /** Stores small bytes already in memory (a manifest) after checking them. */
  async put(digest: string, bytes: Uint8Array): Promise<void> {
    if (await this.has(digest, bytes.length)) return;
    const writer = await this.writer(digest, bytes.length);
    try {
      await writer.write(Buffer.from(bytes));
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
  }

  /** Reads a small blob and verifies it; a blob that fails is discarded and undefined returned. */
  async read(digest: string, size: number): Promise<Buffer | undefined> {
    const bytes = await readFile(this.blobPath(digest)).catch(() => undefined);
    if (bytes === undefined) return undefined;
    const verifier = new DigestVerifier(parseDigest(digest));
    verifier.update(bytes);
    if (bytes.length !== size || verifier.actual() !== digest) {
      await this.discard(digest);
      return undefined;
    }
    return bytes;
  }

  /** Reads a small blob of unknown size (a manifest named by digest) and verifies it. */
  async readVerified(digest: string): Promise<Buffer | undefined> {
    const bytes = await readFile(this.blobPath(digest)).catch(() => undefined);
    if (bytes === undefined) return undefined;
    return this.read(digest, bytes.length);
  }

  /** A stream of a stored blob; the reader verifies it (see unpack) and discards it on mismatch. */
  open(digest: string): ReadStream {
    return createReadStream(this.blobPath(digest), { highWaterMark: 1024 * 1024 });
  }

  /** Hashes a stored blob from disk: true only when it has the digest (and size, if given); an unreadable blob is false. */
  async verify(digest: string, size?: number): Promise<boolean> {
    const verifier = new DigestVerifier(parseDigest(digest));
    try {
      for await (const chunk of this.open(digest)) verifier.update(chunk as Buffer);
    } catch {
      return false;
    }
    return (size === undefined || verifier.size === size) && verifier.actual() === digest;
  }

  /** Where a layer unpacked on its own (an overlayfs lower directory) lives, by diff_id. */
  layerDir(diffId: string): string {
    const parsed = parseDigest(diffId, 'diff_id');
    return join(this.rootDir, 'layers', parsed.algorithm, parsed.hex);
  }

  async hasLayer(diffId: string): Promise<boolean> {
    return (await stat(this.layerDir(diffId)).catch(() => undefined))?.isDirectory() === true;
  }

  /** A fresh directory to unpack a layer into, on the store's filesystem (see commitLayer). */
  async layerStaging(): Promise<string> {
    await this.#init();
    const dir = await mkdtemp(join(this.rootDir, 'tmp', 'layer-'));
    await chmod(dir, 0o755);
    return dir;
  }

  /**
   * Makes an unpacked layer visible under its diff_id: its files are flushed to disk first (syncfs,
   * as a cache device is power-cycled with the machine), then the directory is renamed into place.
   */
  async commitLayer(staging: string, diffId: string): Promise<void> {
    const final = this.layerDir(diffId);
    await mkdir(join(final, '..'), { recursive: true });
    await runChecked(['sync', '-f', staging], { what: 'flushing an unpacked layer to disk' });
    if (await this.hasLayer(diffId)) {
      await rm(staging, { recursive: true, force: true });
      return;
    }
    await rename(staging, final);
  }

  /** Remembers which manifest a reference resolved to (for gc roots and offline use). */
  async setRef(name: string, manifestDigest: string): Promise<void> {
    await this.#init();
    parseDigest(manifestDigest);
    const path = join(this.rootDir, 'refs', Buffer.from(name).toString('base64url'));
    const temp = `${path}.${process.pid}.${this.#counter++}`;
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(manifestDigest);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  }

  async getRef(name: string): Promise<string | undefined> {
    const text = await readFile(join(this.rootDir, 'refs', Buffer.from(name).toString('base64url')), 'utf8').catch(() => undefined);
    return text !== undefined && /^(sha256|sha512):[a-f0-9]+$/.test(text) ? text : undefined;
  }

  async listBlobs(): Promise<string[]> {
    const digests: string[] = [];
    for (const algorithm of ['sha256', 'sha512']) {
      const names = await readdir(join(this.rootDir, 'blobs', algorithm)).catch(() => [] as string[]);
      for (const name of names) digests.push(`${algorithm}:${name}`);
    }
    return digests;
  }

  /**
   * Deletes every blob not reachable from `keep` (manifest or index digests; their configs, layers
   * and child manifests are kept with them), and leftovers in tmp/. Refs pointing at removed
   * manifests are dropped too.
   */
  async gc(keep: readonly string[]): Promise<GcResult> {
    await this.#init();
    const reachable = new Set<string>();
    const reachableLayers = new Set<string>();
    const visitConfig = async (digest: string): Promise<void> => {
      const bytes = await readFile(this.blobPath(digest)).catch(() => undefined);
      try {
        const config = JSON.parse(bytes?.toString('utf8') ?? '{}') as { rootfs?: { diff_ids?: unknown[] } };
        for (const diffId of config.rootfs?.diff_ids ?? []) if (typeof diffId === 'string') reachableLayers.add(diffId);
      } catch {
        // not a config: it keeps no layer directory
      }
    };
    const visit = async (digest: string): Promise<void> => {
      if (reachable.has(digest)) return;
      reachable.add(digest);
      const bytes = await readFile(this.blobPath(digest)).catch(() => undefined);
      if (bytes === undefined) return;
      let document: { manifests?: { digest?: unknown }[]; config?: { digest?: unknown }; layers?: { digest?: unknown }[] };
      try {
        document = JSON.parse(bytes.toString('utf8')) as typeof document;
      } catch {
        return;
      }
      if (typeof document.config?.digest === 'string' && /^(sha256|sha512):[a-f0-9]+$/.test(document.config.digest)) await visitConfig(document.config.digest);
      const children = [...(document.manifests ?? []), ...(document.config === undefined ? [] : [document.config]), ...(document.layers ?? [])];
      for (const child of children) {
        if (typeof child.digest === 'string' && /^(sha256|sha512):[a-f0-9]+$/.test(child.digest)) {
          if (document.manifests !== undefined) await visit(child.digest);
          else reachable.add(child.digest);
        }
      }
    };
    for (const digest of keep) await visit(parseDigest(digest).text);
    const removed: string[] = [];
    let freedBytes = 0;
    for (const digest of await this.listBlobs()) {
      if (reachable.has(digest)) continue;
      const path = this.blobPath(digest);
      freedBytes += (await stat(path).catch(() => undefined))?.size ?? 0;
      await rm(path, { force: true });
      removed.push(digest);
    }
    for (const algorithm of ['sha256', 'sha512']) {
      for (const hex of await readdir(join(this.rootDir, 'layers', algorithm)).catch(() => [] as string[])) {
        const diffId = `${algorithm}:${hex}`;
        if (reachableLayers.has(diffId)) continue;
        await rm(join(this.rootDir, 'layers', algorithm, hex), { recursive: true, force: true });
        removed.push(`layer ${diffId}`);
      }
    }
    await rm(join(this.rootDir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.rootDir, 'tmp'), { recursive: true });
    for (const name of await readdir(join(this.rootDir, 'refs')).catch(() => [] as string[])) {
      const target = await readFile(join(this.rootDir, 'refs', name), 'utf8').catch(() => '');
      if (!reachable.has(target)) await rm(join(this.rootDir, 'refs', name), { force: true });
    }
    return { removed, freedBytes };
  }
}
