import { chmodSync, closeSync, mkdirSync, openSync, readSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { OcinitError } from '../log/errors.ts';
import { DigestMismatchError, mismatch } from '../digest/mismatch.ts';
import type { ContentStore } from '../store/index.ts';
import { DigestVerifier, parseDigest } from '../digest/digest.ts';
import { layerCompression, type LayerCompression } from './media-types.ts';
import { noteStreamedBytes } from '../system/memory.ts';
import type { PulledImage, PulledLayer } from './types.ts';
import { TarReader } from './tar.ts';
import { flattenWhiteouts, LayerApplier, overlayWhiteouts, UnpackState, type UnpackLimits, type WhiteoutStrategy } from './unpack-layer.ts';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
// Fewer, larger chunks: each one costs a thread-pool round trip and main-thread bookkeeping.
const DECOMPRESS_CHUNK = 1024 * 1024;
const DECOMPRESS_AHEAD = 1024 * 1024;

/** Hashes everything that passes (and counts it) without changing it. */
class HashingPassThrough extends Transform {
  readonly verifier: DigestVerifier;

  constructor(verifier: DigestVerifier) {
    super();
    this.verifier = verifier;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.verifier.update(chunk);
    callback(null, chunk);
  }
}

function sniffCompression(declared: LayerCompression, head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (declared !== 'sniff') return declared;
  const starts = (magic: number[]): boolean => magic.every((byte, index) => head[index] === byte);
  return starts(GZIP_MAGIC) ? 'gzip' : starts(ZSTD_MAGIC) ? 'zstd' : 'none';
}

/** The stream that undoes a layer's compression; Docker's gzip media type is sniffed from `head`. */
function decompressor(declared: LayerCompression, head: Buffer): Transform {
  const kind = sniffCompression(declared, head);
  // A deep output buffer lets the thread pool decompress ahead while this thread writes files.
  // (zlib hands its options to the Transform constructor; the typings just do not say so.)
  const streamOptions = { highWaterMark: DECOMPRESS_AHEAD };
  if (kind === 'gzip') return createGunzip({ chunkSize: DECOMPRESS_CHUNK, ...streamOptions });
  if (kind === 'zstd') return createZstdDecompress({ chunkSize: DECOMPRESS_CHUNK, ...streamOptions });
  return new PassThrough();
}

function readHead(path: string): Buffer {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head;
}

/** Thrown to the download of a layer whose unpacking failed: the unpacker's own error says why. */
export class UnpackingStoppedError extends OcinitError {
  override readonly code: string = 'OCINIT_UNPACK_STOPPED';
}

/**
 * A layer's compressed bytes pushed in while they download (the download also writes them to the
 * store and verifies their digest), so unpacking starts before the blob is complete.
 */
export class LayerFeed {
  readonly stream = new PassThrough({ highWaterMark: DECOMPRESS_AHEAD });
  readonly head: Promise<Buffer>;
  #headParts: Buffer[] = [];
  #headLength = 0;
  #resolveHead: (head: Buffer) => void = () => undefined;

  constructor() {
    this.head = new Promise((resolve) => {
      this.#resolveHead = resolve;
    });
  }

  /** Waits while the unpacker is behind; throws once the unpacker has stopped (it failed). */
  async push(chunk: Buffer): Promise<void> {
    if (this.#headLength < 4) {
      this.#headParts.push(chunk);
      this.#headLength += chunk.length;
      if (this.#headLength >= 4) this.#resolveHead(Buffer.concat(this.#headParts));
    }
    if (this.stream.destroyed) throw new UnpackingStoppedError('unpacking stopped');
    if (this.stream.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        this.stream.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.stream.off('drain', onDrain);
        reject(new UnpackingStoppedError('unpacking stopped'));
      };
      this.stream.once('drain', onDrain);
      this.stream.once('close', onClose);
    });
  }

  /** All bytes were pushed (the download may still be verifying them); may be called again. */
  end(): void {
    this.#resolveHead(Buffer.concat(this.#headParts));
    if (!this.stream.writableEnded) this.stream.end();
  }

  fail(error: unknown): void {
    this.#resolveHead(Buffer.concat(this.#headParts));
    this.stream.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

function describeLayerError(error: unknown, layer: PulledLayer, image: string): OcinitError {
  if (error instanceof OcinitError) {
    if (error.blob !== undefined) return error;
    return new OcinitError(error.message, { blob: layer.descriptor.digest, image, hint: error.hint, cause: error });
  }
  const code = (error as { code?: unknown }).code;
  // zlib's errors are Z_DATA_ERROR, Z_BUF_ERROR...; its zstd ones ZSTD_error_<reason>.
  if (typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_'))) {
    return new OcinitError(`layer ${layer.descriptor.digest} of ${image} does not decompress: ${(error as Error).message}`, { blob: layer.descriptor.digest, image, hint: 'the layer is corrupt', cause: error });
  }
  return new OcinitError(`unpacking layer ${layer.descriptor.digest} of ${image} failed: ${(error as Error).message}`, { blob: layer.descriptor.digest, image, cause: error });
}

/** Decompression → diff_id check → tar → disk for one layer's compressed byte stream. */
async function unpackStream(source: Readable, head: Buffer, layer: PulledLayer, state: UnpackState, image: string, whiteouts: WhiteoutStrategy, compressed?: HashingPassThrough): Promise<void> {
  const { descriptor, diffId } = layer;
  const compression = layerCompression(descriptor.mediaType);
  if (compression === undefined) throw new OcinitError(`layer ${descriptor.digest} has media type '${descriptor.mediaType}', which ocinit cannot unpack`, { blob: descriptor.digest, image });
  const uncompressed = new DigestVerifier(parseDigest(diffId, 'diff_id'));
  const applier = new LayerApplier(state, whiteouts);
  const reader = new TarReader(applier);
  const inflate = decompressor(compression, head);
  const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) {
      uncompressed.update(chunk);
      noteStreamedBytes(chunk.length);
      await reader.write(chunk);
    }
  };
  try {
    if (compressed === undefined) await pipeline(source, inflate, sink);
    else await pipeline(source, compressed, inflate, sink);
    await applier.settle();
    const actualDiffId = uncompressed.actual();
    if (actualDiffId !== diffId) throw mismatch(descriptor.digest, 'layer', `diff_id ${diffId}`, actualDiffId, image);
    reader.end();
  } catch (error) {
    // A stream that stopped inside a file (and so fails its diff_id) leaves that file open otherwise.
    reader.abandon();
    // Device nodes still being made go on in their own processes: let them end before the caller
    // removes the staging directory.
    await applier.settle().catch(() => undefined);
    throw error;
  }
}

/**
 * Applies a layer from its bytes as they download (see LayerFeed); the download verifies the
 * compressed digest, this verifies the diff_id.
 */
export async function applyLayerFeed(feed: LayerFeed, layer: PulledLayer, state: UnpackState, image: string, whiteouts: WhiteoutStrategy = flattenWhiteouts): Promise<void> {
  try {
    await unpackStream(feed.stream, await feed.head, layer, state, image, whiteouts);
  } catch (error) {
    feed.fail(error);
    throw describeLayerError(error, layer, image);
  }
}

/**
 * Streams one stored layer through digest check → decompression → diff_id check → tar → disk.
 * The stored blob is verified again as it is read (a cache survives reboots and disks rot), unless
 * `justVerified` says it was written and verified moments ago by the same pull.
 */
export async function applyLayer(
  store: ContentStore,
  layer: PulledLayer,
  state: UnpackState,
  image: string,
  options: { whiteouts?: WhiteoutStrategy; justVerified?: boolean } = {},
): Promise<void> {
  const { descriptor } = layer;
  const whiteouts = options.whiteouts ?? flattenWhiteouts;
  if (options.justVerified === true) {
    try {
      await unpackStream(store.open(descriptor.digest), readHead(store.blobPath(descriptor.digest)), layer, state, image, whiteouts);
    } catch (error) {
      throw describeLayerError(error, layer, image);
    }
    return;
  }
  const compressed = new HashingPassThrough(new DigestVerifier(parseDigest(descriptor.digest)));
  const rotted = async (actual: string): Promise<DigestMismatchError> => {
    await store.discard(descriptor.digest);
    return mismatch(descriptor.digest, 'stored layer', `${descriptor.digest} (${descriptor.size} bytes)`, `${actual}; discarded from the store, pull again`, image);
  };
  try {
    await unpackStream(store.open(descriptor.digest), readHead(store.blobPath(descriptor.digest)), layer, state, image, whiteouts, compressed);
  } catch (error) {
    // A stored blob that fails to unpack, or unpacks to the wrong diff_id, may simply have rotted on
    // disk (an uncompressed layer's flipped bit shows only as a diff_id mismatch). The failure may
    // have stopped the read early, so the whole blob is hashed again before the layer is blamed.
    if (!(await store.verify(descriptor.digest, descriptor.size))) throw await rotted('different bytes when hashed again from disk');
    throw describeLayerError(error, layer, image);
  }
  const actual = compressed.verifier.actual();
  if (compressed.verifier.size !== descriptor.size || actual !== descriptor.digest) throw await rotted(`${actual} (${compressed.verifier.size} bytes)`);
}

/** A staging directory next to the target, renamed into place by `commit` (see unpackImage). */
export interface Staging {
  dir: string;
  state: UnpackState;
  commit(): void;
  discard(): void;
}

export function prepareStaging(targetDir: string, image: string, limits: UnpackLimits | undefined): Staging {
  const target = resolve(targetDir);
  const parent = dirname(target);
  let existing: ReturnType<typeof statSync>;
  let dir: string;
  try {
    mkdirSync(parent, { recursive: true });
    existing = statSync(target, { throwIfNoEntry: false });
    if (existing !== undefined && (!existing.isDirectory() || readdirSync(target).length > 0)) {
      throw new OcinitError(`cannot unpack ${image} into ${target}: it exists and is not an empty directory`, { image, hint: 'give a new or empty directory' });
    }
    dir = mkdtempSync(join(parent, `.${basename(target)}.ocinit-`));
    chmodSync(dir, 0o755);
  } catch (error) {
    if (error instanceof OcinitError) throw error;
    throw new OcinitError(`cannot prepare ${target} for ${image}: ${(error as Error).message}`, { image, cause: error, hint: 'check the target directory and its parent are writable' });
  }
  const state = new UnpackState(dir, limits);
  return {
    dir,
    state,
    commit() {
      state.finish();
      if (existing !== undefined) rmdirSync(target);
      renameSync(dir, target);
    },
    discard() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface UnpackOptions {
  store: ContentStore;
  limits?: UnpackLimits;
}

/**
 * Flattens every layer, in order, into a staging directory next to `targetDir`, and renames it into
 * place only after all of them verified. `targetDir` must be absent or empty; on failure it is left
 * exactly as it was.
 */
export async function unpackImage(image: PulledImage, targetDir: string, options: UnpackOptions): Promise<void> {
  const staging = prepareStaging(targetDir, image.reference.canonical, options.limits);
  try {
    for (const layer of image.layers) await applyLayer(options.store, layer, staging.state, image.reference.canonical);
    staging.commit();
  } catch (error) {
    staging.discard();
    throw error;
  }
}

/**
 * Unpacks each layer on its own into the store (`layers/<diff_id>`), with overlayfs whiteouts, once;
 * returns the directories bottom layer first, ready to be overlayfs lowerdirs (reversed). Limits
 * apply per layer. Unlike flattening, a layer cannot write through a lower layer's symlink here:
 * each layer only sees itself.
 */
export async function unpackLayers(image: PulledImage, options: UnpackOptions): Promise<string[]> {
  const dirs: string[] = [];
  for (const layer of image.layers) {
    if (!(await options.store.hasLayer(layer.diffId))) {
      const staging = await options.store.layerStaging();
      try {
        const state = new UnpackState(staging, options.limits);
        await applyLayer(options.store, layer, state, image.reference.canonical, { whiteouts: overlayWhiteouts });
        state.finish();
        await options.store.commitLayer(staging, layer.diffId);
      } catch (error) {
        rmSync(staging, { recursive: true, force: true });
        throw error;
      }
    }
    dirs.push(options.store.layerDir(layer.diffId));
  }
  return dirs;
}

/**
 * Flattens layers given as uncompressed tar streams (rebuilt from a local image store), each
 * hashed against its diff_id as it is unpacked, into `targetDir` through a staging directory: on
 * any mismatch nothing is left in view.
 */
export async function unpackTarStreams(layers: readonly { diffId: string; open(): Readable }[], targetDir: string, image: string, limits?: UnpackLimits): Promise<void> {
  const staging = prepareStaging(targetDir, image, limits);
  try {
    for (const { diffId, open } of layers) {
      // The diff_id stands for the layer: the tar is verified by it, uncompressed.
      const layer: PulledLayer = { descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: diffId, size: 0 }, diffId };
      try {
        await unpackStream(open(), Buffer.alloc(0), layer, staging.state, image, flattenWhiteouts);
      } catch (error) {
        throw describeLayerError(error, layer, image);
      }
    }
    staging.commit();
  } catch (error) {
    staging.discard();
    throw error;
  }
}
