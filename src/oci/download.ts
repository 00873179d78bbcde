import { OcinitError } from '../log/errors.ts';
import { mismatch } from '../digest/mismatch.ts';
import type { BlobWriter, ContentStore } from '../store/index.ts';
import { DigestVerifier, parseDigest } from '../digest/digest.ts';
import type { Descriptor, ImageManifest } from './manifest.ts';
import { noteStreamedBytes } from '../system/memory.ts';
import { scopeOf, type Source } from './sources.ts';
import { RegistryError, RegistryUnreachableError, type RegistryResponse } from './transport.ts';
import type { PullOptions, ResolvedImage } from './types.ts';
import { monotonicMs } from '../system/monotonic.ts';

const MAX_RESUMES = 5;
const DOWNLOAD_BATCH = 512 * 1024;

/** Receives a blob's bytes as they arrive (see LayerFeed in unpack.ts). */
export interface BlobTee {
  push(chunk: Buffer): Promise<void>;
  /** Every byte arrived; the digest check and the store's commit (an fsync) are still to come. */
  end(): void;
}

/**
 * What a blob download carries from one response to the next: bytes already given to the tee (the
 * unpacker) are never given again, and when a server restarts the blob from byte 0 they are hashed
 * a second time and must be the same bytes.
 */
export class TeeReplay {
  readonly #tee: BlobTee | undefined;
  readonly #descriptor: Descriptor;
  readonly #image: string;
  /** Bytes pushed to the tee so far. */
  #pushed = 0;
  /** The digest of those bytes, known once a restart discarded them. */
  #pushedDigest: string | undefined;
  /** Hash of the bytes of the current response below #pushed. */
  #replay: DigestVerifier | undefined;

  constructor(tee: BlobTee | undefined, descriptor: Descriptor, image: string) {
    this.#tee = tee;
    this.#descriptor = descriptor;
    this.#image = image;
  }

  /** The writer restarted from byte 0 and discarded `discarded`: replay up to what the tee has. */
  restarted(discarded: { size: number; digest: string }): void {
    if (this.#tee === undefined) return;
    // After a first restart the writer may be discarded again mid-replay: the tee's digest is the first one.
    if (discarded.size === this.#pushed) this.#pushedDigest = discarded.digest;
    this.#replay = new DigestVerifier(parseDigest(this.#descriptor.digest));
  }

  /** `bytes` were just stored at `position`: gives the tee those it has not had. */
  async push(bytes: Buffer, position: number): Promise<void> {
    if (this.#tee === undefined) return;
    let fresh = bytes;
    if (position < this.#pushed) {
      const seen = bytes.subarray(0, this.#pushed - position);
      this.#replay?.update(seen);
      fresh = bytes.subarray(seen.length);
      if (position + seen.length === this.#pushed && this.#replay?.actual() !== this.#pushedDigest) {
        const digest = this.#descriptor.digest;
        throw mismatch(digest, 'blob', `the ${this.#pushed} bytes already unpacked`, 'other bytes when the download started again from byte 0', this.#image);
      }
    }
    if (fresh.length === 0) return;
    this.#pushed += fresh.length;
    await this.#tee.push(fresh);
  }
}

/** Whether a blob that failed from one source may go on from the next: the source failed, not the bytes or the disk. */
function handsOver(error: unknown): boolean {
  return error instanceof RegistryError;
}

/**
 * Streams a blob into the store: hashed as it arrives, resumed with Range after a broken connection
 * (the hash continues over the whole blob), committed only when digest and size match. When a
 * source keeps failing (unreachable, an HTTP error, broken more than MAX_RESUMES times) the next
 * source goes on from the same byte: every source serves the same digest, and the bytes are
 * verified whatever their source.
 */
export async function downloadBlob(
  sources: readonly Source[],
  descriptor: Descriptor,
  image: string,
  store: ContentStore,
  onProgress: PullOptions['onProgress'],
  tee?: BlobTee,
): Promise<void> {
  const writer = await store.writer(descriptor.digest, descriptor.size);
  const replay = new TeeReplay(tee, descriptor, image);
  try {
    for (const [index, source] of sources.entries()) {
      try {
        await downloadFrom(source, descriptor, image, writer, replay, onProgress);
        break;
      } catch (error) {
        const next = sources[index + 1];
        if (next === undefined || source.transport.cancelled || !handsOver(error)) throw error;
        source.transport.log?.warn(`${source.label} failed for blob ${descriptor.digest} at byte ${writer.size}: ${(error as Error).message}; going on from ${next.label}`);
      }
    }
    // The unpacker need not wait for the fsync: nothing is committed until this download succeeded.
    tee?.end();
    await writer.commit(image);
    onProgress?.({ digest: descriptor.digest, received: writer.size, total: descriptor.size, done: true });
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** The blob from one source, from the writer's current size on. */
async function downloadFrom(
  source: Source,
  descriptor: Descriptor,
  image: string,
  writer: BlobWriter,
  replay: TeeReplay,
  onProgress: PullOptions['onProgress'],
): Promise<void> {
  const what = `downloading blob ${descriptor.digest} of ${image}`;
  const urls = descriptor.urls ?? [];
  let urlIndex = -1;
  /** The registry first; for a foreign layer it does not have, each of the descriptor's URLs. */
  const open = async (offset: number): Promise<RegistryResponse> => {
    for (;;) {
      const url = urls[urlIndex];
      const response =
        url === undefined
          ? await source.transport.blob(`/v2/${source.repository}/blobs/${descriptor.digest}`, scopeOf(source.repository), what, offset)
          : await source.transport.external(url, what, offset);
      if ((response.status !== 404 && response.status < 400) || urlIndex + 1 >= urls.length) return response;
      await response.body.dump();
      urlIndex++;
      source.transport.log?.info(`blob ${descriptor.digest} is a foreign layer: fetching it from ${new URL(urls[urlIndex] ?? '').origin}`);
    }
  };
  for (let resumes = 0; ; resumes++) {
    const offset = writer.size;
    const response = await open(offset);
    if (offset > 0 && response.status === 200) {
      // Some proxies and caches ignore Range: the whole blob again, hashed from byte 0.
      source.transport.log?.warn(`registry ${source.transport.host} ignored the Range request for blob ${descriptor.digest}: reading it again from byte 0`);
      replay.restarted(await writer.restart());
    } else if (offset > 0 && response.status === 206) {
      const range = /^bytes (\d+)-/.exec(response.headers['content-range'] ?? '');
      if (range === null || Number(range[1]) !== offset) {
        await response.body.dump();
        throw new RegistryError(`registry ${source.transport.host} resumed blob ${descriptor.digest} at the wrong offset`, { image, blob: descriptor.digest, status: 206 });
      }
    } else if (response.status !== 200) await source.transport.fail(response, what, { image, blob: descriptor.digest });
    const batch: Buffer[] = [];
    let batchBytes = 0;
    /** Stores (then unpacks, with a tee) the bytes received so far. */
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const chunks = batch.splice(0);
      const bytes = batchBytes;
      batchBytes = 0;
      const position = writer.size;
      await writer.write(chunks);
      noteStreamedBytes(bytes);
      await replay.push(chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(chunks, bytes), position);
    };
    try {
      // Network chunks (64 kB) are stored and unpacked in batches: per-chunk overhead (a store
      // write, a decompressor job) costs more main-thread time than the bytes themselves.
      for await (const chunk of response.body) {
        batch.push(chunk as Buffer);
        batchBytes += (chunk as Buffer).length;
        onProgress?.({ digest: descriptor.digest, received: writer.size + batchBytes, total: descriptor.size, done: false });
        if (batchBytes >= DOWNLOAD_BATCH) await flush();
      }
      await flush();
      return;
    } catch (error) {
      if (source.transport.cancelled) throw new OcinitError(`${what} was cancelled`, { image, blob: descriptor.digest, cause: error });
      if (error instanceof OcinitError) throw error;
      if (resumes >= MAX_RESUMES) throw new RegistryUnreachableError(`${what} from ${source.transport.host} failed after ${resumes} resumptions: ${(error as Error).message}`, { image, blob: descriptor.digest, cause: error });
      // What arrived before the break is a valid prefix: keep it and resume after it.
      await flush();
      source.transport.log?.warn(`registry ${source.transport.host}: ${what} broke at byte ${writer.size} (${(error as Error).message}); resuming`);
    }
  }
}

/** Runs functions with at most `limit` of them at a time. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

export interface DownloadTally {
  blobs: number;
  bytes: number;
}

/** Downloads the missing layers (each once), `limit` at a time; returns one promise per digest. */
export function downloadLayers(
  sources: readonly Source[],
  resolved: ResolvedImage,
  missing: Descriptor[],
  options: PullOptions,
  tally: DownloadTally,
  tees: Map<string, BlobTee> = new Map(),
): Map<string, Promise<void>> {
  const image = resolved.reference.canonical;
  const limit = limiter(options.concurrency ?? 3);
  const downloads = new Map<string, Promise<void>>();
  for (const descriptor of missing) {
    const download = limit(async () => {
      const started = monotonicMs();
      await downloadBlob(sources, descriptor, image, options.store, options.onProgress, tees.get(descriptor.digest));
      const seconds = (monotonicMs() - started) / 1000;
      tally.blobs++;
      tally.bytes += descriptor.size;
      options.log?.info(`layer ${descriptor.digest.slice(0, 19)}: ${(descriptor.size / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s (${(descriptor.size / 1e6 / Math.max(seconds, 0.001)).toFixed(1)} MB/s)`);
    });
    // Failures are reported by whoever awaits the download; this only avoids an unhandled rejection.
    download.catch(() => undefined);
    downloads.set(descriptor.digest, download);
  }
  return downloads;
}

export async function missingLayers(manifest: ImageManifest, store: ContentStore): Promise<Descriptor[]> {
  const missing: Descriptor[] = [];
  for (const layer of manifest.layers) {
    if (missing.some((other) => other.digest === layer.digest)) continue;
    if (!(await store.has(layer.digest, layer.size))) missing.push(layer);
  }
  return missing;
}
