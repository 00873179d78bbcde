import { OcinitError } from '../log/errors.ts';
import type { ContentStore } from '../store/index.ts';
import type { Descriptor, ImageManifest } from './manifest.ts';
import { noteStreamedBytes } from './memory.ts';
import type { PullOptions } from './pull.ts';
import type { ResolvedImage } from './resolve.ts';
import { scopeOf, type Source } from './sources.ts';
import type { RegistryResponse } from './transport.ts';

const MAX_RESUMES = 5;
const DOWNLOAD_BATCH = 512 * 1024;

/** Receives a blob's bytes as they arrive (see LayerFeed in unpack.ts). */
export interface BlobTee {
  push(chunk: Buffer): Promise<void>;
  /** Every byte arrived; the digest check and the store's commit (an fsync) are still to come. */
  end(): void;
}

export interface LayerProgress {
  digest: string;
  received: number;
  total: number;
  done: boolean;
}

/**
 * Streams a blob into the store: hashed as it arrives, resumed with Range after a broken connection
 * (the hash continues over the whole blob), committed only when digest and size match.
 */
export async function downloadBlob(
  source: Source,
  descriptor: Descriptor,
  image: string,
  store: ContentStore,
  onProgress: PullOptions['onProgress'],
  tee?: BlobTee,
): Promise<void> {
  const what = `downloading blob ${descriptor.digest} of ${image}`;
  const writer = await store.writer(descriptor.digest, descriptor.size);
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
  try {
    for (let resumes = 0; ; resumes++) {
      const offset = writer.size;
      const response = await open(offset);
      if (offset > 0 && response.status === 200) {
        if (tee !== undefined) {
          await response.body.dump();
          throw new OcinitError(`registry ${source.transport.host} cannot resume blob ${descriptor.digest} (it ignored the Range request) and its first bytes are already unpacked`, { image, blob: descriptor.digest, hint: 'pull again' });
        }
        await writer.restart();
      }
      else if (offset > 0 && response.status === 206) {
        const range = /^bytes (\d+)-/.exec(response.headers['content-range'] ?? '');
        if (range === null || Number(range[1]) !== offset) {
          await response.body.dump();
          throw new OcinitError(`registry ${source.transport.host} resumed blob ${descriptor.digest} at the wrong offset`, { image, blob: descriptor.digest });
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
        await writer.write(chunks);
        noteStreamedBytes(bytes);
        if (tee !== undefined) await tee.push(chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(chunks, bytes));
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
        break;
      } catch (error) {
        if (source.transport.cancelled) throw new OcinitError(`${what} was cancelled`, { image, blob: descriptor.digest, cause: error });
        if (error instanceof OcinitError || resumes >= MAX_RESUMES) throw error instanceof OcinitError ? error : new OcinitError(`${what} failed after ${resumes} resumptions: ${(error as Error).message}`, { image, blob: descriptor.digest, cause: error });
        // What arrived before the break is a valid prefix: keep it and resume after it.
        await flush();
        source.transport.log?.warn(`registry ${source.transport.host}: ${what} broke at byte ${writer.size} (${(error as Error).message}); resuming`);
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
  source: Source,
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
      const started = performance.now();
      await downloadBlob(source, descriptor, image, options.store, options.onProgress, tees.get(descriptor.digest));
      const seconds = (performance.now() - started) / 1000;
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
