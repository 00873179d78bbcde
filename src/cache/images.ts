// The pull path on top of the cache: --pull policies, the registry-outage fallback
// (b2c.cache_offline), last-use records, unpacking, and garbage collection when space runs low.
import type { Plan, PullPolicy } from '../cmdline/plan.ts';
import { hasCode, OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { parseReference, pullAndUnpack, unpackImage, type PulledImage, type PullOptions, type ResolvedImage } from '../oci/index.ts';
import { parseImageConfig, parseManifestDocument, type ImageManifest } from '../oci/manifest.ts';
import { formatPlatform, hostPlatform, normalizePlatform, selectPlatform, type Platform } from '../oci/platform.ts';
import type { ImageReference } from '../reference/reference.ts';
import { refName } from '../oci/resolve.ts';
import { RegistryUnreachableError } from '../oci/transport.ts';
import type { ImageVerifier } from '../oci/pull.ts';
import { builtInVerifier } from '../policy/built-in.ts';
import { signatureText } from '../policy/verifier.ts';
import type { MeasuredImage, MeasuredVerityRoot } from '../tpm/boot.ts';

/** Measures an image before it runs (src/tpm/boot.ts's BootMeasurement at boot). */
export interface ImageMeasurement {
  measureImage(image: MeasuredImage): Promise<void>;
  /** b2c.image_format=erofs: the root hash the kernel will check the image's reads against. */
  measureVerityRoot(root: MeasuredVerityRoot): Promise<void>;
}
import { ContentStore } from '../store/index.ts';
import { collectGarbage, minFreeBytes, recordUse, spaceOf } from './gc.ts';
import type { Storage } from './index.ts';

export interface CachedImage {
  image: PulledImage;
  /** The registry could not be reached and the cached copy was used (b2c.cache_offline). */
  offline: boolean;
}

export type CachePullOptions = Omit<PullOptions, 'store' | 'log' | 'verifier'> & {
  /** When the image is pulled: where to unpack it while it downloads (see pullAndUnpack). */
  unpackTarget?: (resolved: ResolvedImage) => string | undefined;
};

/** The built-in signature policy as the plan narrows it (b2c.signatures), read when first needed. */
export function signaturePolicy(plan: Pick<Plan, 'signatures'>): () => ImageVerifier | undefined {
  return () => builtInVerifier({ requireSignatures: plan.signatures === 'required' });
}

/** Whether b2c.cache_offline lets `reference` run from the cache while its registry is down. */
export function offlineAllowed(reference: ImageReference, setting: Storage['settings']['offline']): boolean {
  if (setting === 'always') return true;
  if (setting === 'never') return false;
  return reference.digest !== undefined;
}


/**
 * The image `reference` last resolved to (or its pinned digest), built from the store alone; undefined
 * unless its manifest, config and every layer are there and verify.
 */
export async function imageFromStore(reference: ImageReference, store: ContentStore, platformWanted?: Platform): Promise<PulledImage | undefined> {
  const image = reference.canonical;
  const platform = normalizePlatform(platformWanted ?? hostPlatform());
  const top = reference.digest ?? (await store.getRef(refName(image, platform)));
  if (top === undefined) return undefined;
  try {
    const topBytes = await store.readVerified(top);
    if (topBytes === undefined) return undefined;
    let document = parseManifestDocument(topBytes, undefined, { image, blob: top });
    let manifestDigest = top;
    if (document.kind === 'index') {
      const chosen = selectPlatform(document.manifests, platform);
      if (chosen === undefined) return undefined;
      const bytes = await store.read(chosen.digest, chosen.size);
      if (bytes === undefined) return undefined;
      document = parseManifestDocument(bytes, chosen.mediaType, { image, blob: chosen.digest });
      manifestDigest = chosen.digest;
    }
    if (document.kind !== 'manifest') return undefined;
    const manifest: ImageManifest = document;
    const configBytes = await store.read(manifest.config.digest, manifest.config.size);
    if (configBytes === undefined) return undefined;
    const config = parseImageConfig(configBytes, manifest.layers.length, { image, blob: manifest.config.digest });
    for (const layer of manifest.layers) if (!(await store.has(layer.digest, layer.size))) return undefined;
    return {
      reference,
      manifestDigest,
      platform: normalizePlatform({ os: config.os ?? platform.os, architecture: config.architecture ?? platform.architecture, ...(config.variant === undefined ? {} : { variant: config.variant }) }),
      config,
      configDigest: manifest.config.digest,
      manifest,
      layers: manifest.layers.map((descriptor, index) => ({ descriptor, diffId: config.rootfs.diff_ids[index] ?? '' })),
      source: 'cache',
      blobsDownloaded: 0,
      bytesDownloaded: 0,
    };
  } catch {
    return undefined;
  }
}

/**
 * One boot's view of the cached images. Every image it hands out is protected from collection
 * for the rest of the boot; `notices` lists what the status summary must repeat (offline runs).
 */
export class ImageCache {
  readonly store: ContentStore;
  readonly notices: string[] = [];
  readonly #storage: Storage;
  readonly #log: Logger;
  readonly #inUse = new Set<string>();

  /** The signature policy every image must pass, whatever its source (pulled, cached, offline). */
  readonly #verifier: () => ImageVerifier | undefined;
  /** b2c.tpm: each admitted image is measured before it runs. */
  readonly #measurement: ImageMeasurement | undefined;

  constructor(storage: Storage, log: Logger, verifier: () => ImageVerifier | undefined = () => builtInVerifier(), measurement?: ImageMeasurement) {
    this.#storage = storage;
    this.#log = log;
    this.store = new ContentStore(storage.storeDir);
    this.#verifier = verifier;
    this.#measurement = measurement;
  }

  /** The image for `reference` under `policy` (boot2container's default is `always`). */
  async get(referenceText: string, policy: PullPolicy, options: CachePullOptions = {}): Promise<CachedImage> {
    const reference = parseReference(referenceText);
    if (policy === 'never' || policy === 'missing') {
      const cached = await imageFromStore(reference, this.store, options.platform);
      if (cached !== undefined) return this.#use(referenceText, cached, false, options);
      if (policy === 'never') {
        throw new OcinitError(`--pull=never, and ${reference.canonical} is not in the ${this.#storage.persistent ? 'cache' : 'store (RAM: nothing survives a reboot)'}`, {
          image: reference.canonical,
          hint: 'use --pull=missing or --pull=always, or b2c.cache_device=auto so images persist',
        });
      }
    }
    await this.#collectIfLow();
    try {
      return this.#use(referenceText, await this.#pull(reference, options), false, options);
    } catch (error) {
      if (!(error instanceof RegistryUnreachableError) || !offlineAllowed(reference, this.#storage.settings.offline)) throw error;
      const cached = await imageFromStore(reference, this.store, options.platform);
      if (cached === undefined) throw error;
      const notice = `REGISTRY UNREACHABLE: running ${reference.canonical} from the cache (${cached.manifestDigest}, as last pulled) because b2c.cache_offline=${this.#storage.settings.offline}: ${error.message}`;
      this.#log.error(notice);
      this.notices.push(notice);
      return this.#use(referenceText, cached, true, options);
    }
  }

  /** Marks digests as needed by this boot (images the pipeline got elsewhere). */
  protect(digest: string): void {
    this.#inUse.add(digest);
  }

  async #pull(reference: ImageReference, options: CachePullOptions): Promise<PulledImage> {
    // pullImage's own fallback to stored images is off: b2c.cache_offline decides, and every offline
    // run is announced (see get).
    const { unpackTarget, ...rest } = options;
    const verifier = this.#verifier();
    const pullOptions: PullOptions = { ...rest, store: this.store, log: this.#log, storeFallback: false, ...(verifier === undefined ? {} : { verifier }) };
    return this.#makingRoom(reference.canonical, 'pulling', () => pullAndUnpack(reference, unpackTarget ?? (() => undefined), pullOptions));
  }

  /**
   * Unpacks `image` into `dir` (an unpacked-image directory of this storage), with the same answer
   * to a full disk as pulls: collection and one more try on a cache device, a clear error in RAM.
   */
  async unpack(image: PulledImage, dir: string): Promise<void> {
    await this.#makingRoom(image.reference.canonical, 'unpacking', () => unpackImage(image, dir, { store: this.store }));
  }

  /** Runs `task`; when it runs out of space, every image this boot does not use goes and it runs once more. */
  async #makingRoom<T>(referenceText: string, doing: string, task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (!hasCode(error, 'ENOSPC')) throw error;
      if (this.#storage.cache === undefined) {
        const free = await spaceOf(this.#storage.imagesDir).catch(() => undefined);
        throw new OcinitError(`${referenceText} does not fit in RAM: out of space while ${doing} it${free === undefined ? '' : ` (${(free.freeBytes / 1e6).toFixed(0)} of ${(free.totalBytes / 1e6).toFixed(0)} MB free)`}`, {
          image: referenceText,
          hint: 'give the job a cache disk (b2c.cache_device), a machine with more memory, or smaller images',
          cause: error,
        });
      }
      this.#log.warn(`cache: out of space while ${doing} ${referenceText}: removing every image this boot does not use`);
      const collected = await this.#collect(Number.MAX_SAFE_INTEGER);
      try {
        return await task();
      } catch (retryError) {
        if (!hasCode(retryError, 'ENOSPC')) throw retryError;
        throw new OcinitError(`${referenceText} does not fit in the cache, even after removing every image this boot does not use (${(collected / 1e6).toFixed(0)} MB free)`, {
          image: referenceText,
          hint: 'use a bigger cache disk, a smaller b2c.swap, or fewer/smaller images in this job',
          cause: retryError,
        });
      }
    }
  }

  /**
   * An image that did not come through a pull (the cache, b2c.storage) meets the policy too: its
   * signatures are read from the registry, as for a pull. Every image is then measured (b2c.tpm).
   * Returns it with the verdict.
   */
  async admit(image: PulledImage, options: CachePullOptions, topDigest = image.reference.digest ?? image.manifestDigest): Promise<PulledImage> {
    const verifier = this.#verifier();
    let admitted = image;
    if (verifier !== undefined && image.verdict === undefined) {
      const { unpackTarget: _unpackTarget, ...rest } = options;
      const verdict = await verifier.verify({ reference: image.reference, topDigest, manifestDigest: image.manifestDigest }, { ...rest, store: this.store, log: this.#log });
      admitted = { ...image, verdict };
    }
    await this.#measurement?.measureImage({ reference: admitted.reference.canonical, topDigest, manifestDigest: admitted.manifestDigest, verdict: signatureText(admitted) });
    return admitted;
  }

  /** Measures an admitted image's verity root before it is mounted (b2c.tpm, b2c.image_format=erofs). */
  async measureVerityRoot(root: MeasuredVerityRoot): Promise<void> {
    await this.#measurement?.measureVerityRoot(root);
  }

  async #use(referenceText: string, found: PulledImage, offline: boolean, options: CachePullOptions): Promise<CachedImage> {
    const top = found.reference.digest ?? (await this.store.getRef(refName(found.reference.canonical, normalizePlatform(found.platform)))) ?? found.manifestDigest;
    const image = await this.admit(found, options, top);
    this.#inUse.add(image.manifestDigest);
    const platform = formatPlatform(image.platform);
    this.#inUse.add(top);
    const usageDir = this.#storage.cache?.usageDir;
    if (usageDir !== undefined) {
      await recordUse(usageDir, { reference: referenceText, topDigest: top, manifestDigest: image.manifestDigest, lastUsed: Date.now() }).catch((error: unknown) =>
        this.#log.warn(`cache: cannot record the use of ${referenceText} (${platform}): ${(error as Error).message}`),
      );
    }
    return { image, offline };
  }

  async #collectIfLow(): Promise<void> {
    const cache = this.#storage.cache;
    if (cache === undefined) return;
    const space = await spaceOf(cache.root);
    const wanted = minFreeBytes(this.#storage.settings.minFree, space.totalBytes);
    if (space.freeBytes >= wanted) return;
    this.#log.info(`cache: ${(space.freeBytes / 1e6).toFixed(0)} MB free, below b2c.cache_min_free (${(wanted / 1e6).toFixed(0)} MB): collecting unused images`);
    await this.#collect(wanted);
  }

  /** Collects until `wantFreeBytes` are free; returns the free bytes after. */
  async #collect(wantFreeBytes: number): Promise<number> {
    const cache = this.#storage.cache;
    if (cache === undefined) return 0;
    const result = await collectGarbage({ root: cache.root, usageDir: cache.usageDir, imagesDir: cache.imagesDir, store: this.store, inUse: this.#inUse, wantFreeBytes, log: this.#log });
    this.#log.info(`cache: collection removed ${result.removedImages.length} image(s), ${(result.freeBytes / 1e6).toFixed(0)} MB free now`);
    return result.freeBytes;
  }
}
