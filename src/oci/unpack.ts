import { chmodSync, closeSync, mkdirSync, openSync, readSync, mkdtempSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { OcinitError } from '../log/errors.ts';
import { mismatch, type ContentStore } from '../store/index.ts';
import { DigestVerifier, parseDigest } from './digest.ts';
import { layerCompression, type LayerCompression } from './media-types.ts';
import { noteStreamedBytes } from './memory.ts';
import type { PulledImage, PulledLayer } from './pull.ts';
import { TarReader } from './tar.ts';
import { flattenWhiteouts, LayerApplier, UnpackState, type UnpackLimits, type WhiteoutStrategy } from './unpack-layer.ts';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const DECOMPRESS_CHUNK = 256 * 1024;
const DECOMPRESS_AHEAD = 4 * 1024 * 1024;

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

/** The stream that undoes a layer's compression; Docker's gzip media type is sniffed from the bytes. */
function decompressor(declared: LayerCompression, blobPath: string): Transform {
  let kind = declared;
  if (kind === 'sniff') {
    const head = Buffer.alloc(4);
    const fd = openSync(blobPath, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    const starts = (magic: number[]): boolean => magic.every((byte, index) => head[index] === byte);
    kind = starts(GZIP_MAGIC) ? 'gzip' : starts(ZSTD_MAGIC) ? 'zstd' : 'none';
  }
  // A deep output buffer lets the thread pool decompress ahead while this thread writes files.
  // (zlib hands its options to the Transform constructor; the typings just do not say so.)
  const streamOptions = { highWaterMark: DECOMPRESS_AHEAD };
  if (kind === 'gzip') return createGunzip({ chunkSize: DECOMPRESS_CHUNK, ...streamOptions });
  if (kind === 'zstd') return createZstdDecompress({ chunkSize: DECOMPRESS_CHUNK, ...streamOptions });
  return new PassThrough();
}

function describeLayerError(error: unknown, layer: PulledLayer, image: string): OcinitError {
  if (error instanceof OcinitError) {
    if (error.blob !== undefined) return error;
    return new OcinitError(error.message, { blob: layer.descriptor.digest, image, hint: error.hint, cause: error });
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_') || (error as Error).message?.includes('zstd')) {
    return new OcinitError(`layer ${layer.descriptor.digest} of ${image} does not decompress: ${(error as Error).message}`, { blob: layer.descriptor.digest, image, hint: 'the layer is corrupt', cause: error });
  }
  return new OcinitError(`unpacking layer ${layer.descriptor.digest} of ${image} failed: ${(error as Error).message}`, { blob: layer.descriptor.digest, image, cause: error });
}

/**
 * Streams one stored layer through digest check → decompression → diff_id check → tar → disk.
 * The stored blob is verified again as it is read (a cache survives reboots and disks rot).
 */
export async function applyLayer(store: ContentStore, layer: PulledLayer, state: UnpackState, image: string, whiteouts: WhiteoutStrategy = flattenWhiteouts): Promise<void> {
  const { descriptor, diffId } = layer;
  const compression = layerCompression(descriptor.mediaType);
  if (compression === undefined) throw new OcinitError(`layer ${descriptor.digest} has media type '${descriptor.mediaType}', which ocinit cannot unpack`, { blob: descriptor.digest, image });
  const compressed = new HashingPassThrough(new DigestVerifier(parseDigest(descriptor.digest)));
  const uncompressed = new DigestVerifier(parseDigest(diffId, 'diff_id'));
  const reader = new TarReader(new LayerApplier(state, whiteouts));
  try {
    await pipeline(store.open(descriptor.digest), compressed, decompressor(compression, store.blobPath(descriptor.digest)), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        uncompressed.update(chunk);
        noteStreamedBytes(chunk.length);
        await reader.write(chunk);
      }
    });
  } catch (error) {
    // A store blob that does not even decompress may simply be corrupt on disk: check before blaming the layer.
    if (compressed.verifier.size !== descriptor.size || compressed.verifier.actual() !== descriptor.digest) {
      await store.discard(descriptor.digest);
      throw mismatch(descriptor.digest, 'stored layer', descriptor.digest, 'different bytes (discarded from the store; pull again)', image);
    }
    throw describeLayerError(error, layer, image);
  }
  const actualCompressed = compressed.verifier.actual();
  if (compressed.verifier.size !== descriptor.size || actualCompressed !== descriptor.digest) {
    await store.discard(descriptor.digest);
    throw mismatch(descriptor.digest, 'stored layer', `${descriptor.digest} (${descriptor.size} bytes)`, `${actualCompressed} (${compressed.verifier.size} bytes); discarded from the store`, image);
  }
  const actualDiffId = uncompressed.actual();
  if (actualDiffId !== diffId) throw mismatch(descriptor.digest, 'layer', `diff_id ${diffId}`, actualDiffId, image);
  try {
    reader.end();
  } catch (error) {
    throw describeLayerError(error, layer, image);
  }
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
  const target = resolve(targetDir);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const existing = statSync(target, { throwIfNoEntry: false });
  if (existing !== undefined && (!existing.isDirectory() || readdirSync(target).length > 0)) {
    throw new OcinitError(`cannot unpack ${image.reference.canonical} into ${target}: it exists and is not an empty directory`, { image: image.reference.canonical, hint: 'give a new or empty directory' });
  }
  const staging = mkdtempSync(join(parent, `.${basename(target)}.ocinit-`));
  try {
    chmodSync(staging, 0o755);
    const state = new UnpackState(staging, options.limits);
    for (const layer of image.layers) await applyLayer(options.store, layer, state, image.reference.canonical);
    state.finish();
    if (existing !== undefined) rmdirSync(target);
    renameSync(staging, target);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}
