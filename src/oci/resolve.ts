import { OcinitError } from '../log/errors.ts';
import { mismatch } from '../digest/mismatch.ts';
import type { ContentStore } from '../store/index.ts';
import { digestOf, parseDigest } from '../digest/digest.ts';
import { downloadBlob } from './download.ts';
import {
  isContainerImage,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  parseImageConfig,
  parseManifestDocument,
  type ImageIndex,
  type ImageManifest,
} from './manifest.ts';
import { layerCompression, MANIFEST_ACCEPT } from './media-types.ts';
import { formatPlatform, hostPlatform, listPlatforms, normalizePlatform, selectPlatform, type Platform } from './platform.ts';
import { manifestReference, type ImageReference } from '../reference/reference.ts';
import { scopeOf, type Source } from './sources.ts';
import { RegistryUnreachableError, type RegistryResponse } from './transport.ts';
import type { PulledLayer, PullOptions, ResolvedImage } from './types.ts';

const MAX_INDEX_DEPTH = 2;

/** A response body of at most `cap` bytes (refused beyond, before or while reading). */
export async function readCapped(response: RegistryResponse, cap: number, what: string, host: string): Promise<Buffer> {
  const declared = Number(response.headers['content-length'] ?? '0');
  if (declared > cap) {
    await response.body.dump();
    throw new OcinitError(`registry ${host} served a ${what} of ${declared} bytes (limit ${cap}); refused`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    length += buffer.length;
    if (length > cap) {
      response.body.destroy();
      throw new OcinitError(`registry ${host} served a ${what} larger than ${cap} bytes; refused`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, length);
}

/** Fetches a manifest by tag or digest and checks it against the digest it must have. */
export async function fetchManifest(
  source: Source,
  reference: string,
  expected: { digest: string; size?: number } | undefined,
  image: string,
): Promise<{ document: ImageIndex | ImageManifest; digest: string; bytes: Buffer }> {
  const what = `fetching manifest ${reference} of ${image}`;
  const response = await source.transport.get(`/v2/${source.repository}/manifests/${reference}`, { scope: scopeOf(source.repository), what, headers: { accept: MANIFEST_ACCEPT } });
  if (response.status !== 200) await source.transport.fail(response, what, { image });
  const bytes = await readCapped(response, MAX_MANIFEST_BYTES, 'manifest', source.transport.host);
  const algorithm = expected === undefined ? 'sha256' : parseDigest(expected.digest).algorithm;
  const digest = digestOf(bytes, algorithm);
  if (expected !== undefined) {
    if (digest !== expected.digest) throw mismatch(expected.digest, 'manifest', expected.digest, digest, image);
    if (expected.size !== undefined && bytes.length !== expected.size) throw mismatch(expected.digest, 'manifest', `${expected.size} bytes`, `${bytes.length} bytes`, image);
  } else {
    const announced = response.headers['docker-content-digest'];
    if (announced !== undefined && announced.startsWith(`${algorithm}:`) && announced !== digest) {
      throw mismatch(announced, 'manifest', announced, digest, image);
    }
  }
  const document = parseManifestDocument(bytes, response.headers['content-type'], { image, blob: digest });
  return { document, digest, bytes };
}

type FetchedManifest = { document: ImageIndex | ImageManifest; digest: string; bytes: Buffer };
type ManifestFetcher = (reference: string, expected: { digest: string; size?: number } | undefined) => Promise<FetchedManifest>;

/** Manifests already in the store (verified again as they are read): the registry-outage fallback. */
function storedManifests(store: ContentStore, image: string): ManifestFetcher {
  return async (reference, expected) => {
    const digest = expected?.digest ?? reference;
    const bytes = await store.readVerified(digest);
    if (bytes === undefined || (expected?.size !== undefined && bytes.length !== expected.size)) {
      throw new OcinitError(`manifest ${digest} of ${image} is not in the store`, { image, blob: digest });
    }
    return { document: parseManifestDocument(bytes, undefined, { image, blob: digest }), digest, bytes };
  };
}

/** Resolves the reference to one image manifest for the platform (descending through indexes). */
async function resolveManifest(fetch: ManifestFetcher, topReference: string, pinned: string | undefined, image: string, platform: Platform, store: ContentStore) {
  let fetched = await fetch(topReference, pinned === undefined ? undefined : { digest: pinned });
  const topDigest = fetched.digest;
  await store.put(fetched.digest, fetched.bytes);
  for (let depth = 0; fetched.document.kind === 'index'; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new OcinitError(`image ${image}: indexes nested more than ${MAX_INDEX_DEPTH} deep`, { image });
    const entry = selectPlatform(fetched.document.manifests, platform);
    if (entry === undefined) {
      const available = listPlatforms(fetched.document.manifests);
      throw new OcinitError(`image ${image} has no variant for ${formatPlatform(platform)}`, {
        image,
        hint: available.length > 0 ? `available: ${available.join(', ')}; choose one with --platform` : 'the index lists no platforms',
      });
    }
    fetched = await fetch(entry.digest, { digest: entry.digest, size: entry.size });
    await store.put(fetched.digest, fetched.bytes);
  }
  return { manifest: fetched.document, manifestDigest: fetched.digest, topDigest };
}

export function refName(image: string, platform: Platform): string {
  return `${image}|${formatPlatform(platform)}`;
}

/**
 * When no source can be reached, an image whose manifest, config and layers are all in the store
 * (from an earlier pull of the same reference and platform) is used as it is, with a warning.
 */
async function resolveFromStore(reference: ImageReference, platform: Platform, options: PullOptions) {
  const image = reference.canonical;
  const top = reference.digest ?? (await options.store.getRef(refName(image, platform)));
  if (top === undefined) return undefined;
  try {
    const resolved = await resolveManifest(storedManifests(options.store, image), top, top, image, platform, options.store);
    if (resolved.manifest.kind !== 'manifest') return undefined;
    if ((await options.store.read(resolved.manifest.config.digest, resolved.manifest.config.size)) === undefined) return undefined;
    for (const layer of resolved.manifest.layers) if (!(await options.store.has(layer.digest, layer.size))) return undefined;
    return resolved;
  } catch {
    return undefined;
  }
}

async function fetchConfig(sources: readonly Source[], manifest: ImageManifest, image: string, store: ContentStore): Promise<{ bytes: Buffer; downloaded: boolean }> {
  const descriptor = manifest.config;
  if (descriptor.size > MAX_CONFIG_BYTES) throw new OcinitError(`image config of ${descriptor.size} bytes (limit ${MAX_CONFIG_BYTES}); refused`, { image, blob: descriptor.digest });
  const cached = await store.read(descriptor.digest, descriptor.size);
  if (cached !== undefined) return { bytes: cached, downloaded: false };
  await downloadBlob(sources, descriptor, image, store, undefined);
  const bytes = await store.read(descriptor.digest, descriptor.size);
  if (bytes === undefined) throw new OcinitError(`image config ${descriptor.digest} vanished from the store`, { image, blob: descriptor.digest });
  return { bytes, downloaded: true };
}


/** The reference resolved to one image manifest and its config, trying each source in turn. */
export async function resolveImage(
  reference: ImageReference,
  sources: Source[],
  options: PullOptions,
): Promise<ResolvedImage & { sourceRef: Source; blobSources: Source[]; topDigest: string }> {
  const image = reference.canonical;
  const platform = normalizePlatform(options.platform ?? hostPlatform());
  let resolved: Awaited<ReturnType<typeof resolveManifest>> | undefined;
  let source: Source | undefined;
  for (const candidate of sources) {
    try {
      const fetch: ManifestFetcher = (ref, expected) => fetchManifest(candidate, ref, expected, image);
      resolved = await resolveManifest(fetch, manifestReference(reference), reference.digest, image, platform, options.store);
      source = candidate;
      break;
    } catch (error) {
      if (candidate === sources[sources.length - 1]) {
        const cached = error instanceof RegistryUnreachableError && options.storeFallback !== false ? await resolveFromStore(reference, platform, options) : undefined;
        if (cached === undefined) throw error;
        options.log?.warn(`${(error as Error).message}; using ${image} (${cached.manifestDigest}) from the store as pulled before`);
        resolved = cached;
        source = candidate;
        break;
      }
      options.log?.warn(`${candidate.label} failed for ${image}: ${(error as Error).message}; trying the next source`);
    }
  }
  if (resolved === undefined || source === undefined) throw new OcinitError(`no source for ${image}`, { image });
  const { manifest, manifestDigest, topDigest } = resolved;
  if (manifest.kind !== 'manifest') throw new OcinitError(`image ${image} did not resolve to a manifest`, { image });
  if (!isContainerImage(manifest)) {
    throw new OcinitError(`${image} is an artifact (${manifest.artifactType ?? manifest.config.mediaType}), not a container image; nothing to unpack`, { image });
  }
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new OcinitError(`layer ${layer.digest} of ${image} has media type '${layer.mediaType}', which ocinit cannot unpack`, { image, blob: layer.digest });
    }
  }
  // Blobs come from the source that served the manifest, then from those after it.
  const blobSources = sources.slice(sources.indexOf(source));
  const { bytes: configBytes, downloaded: configDownloaded } = await fetchConfig(blobSources, manifest, image, options.store);
  const config = parseImageConfig(configBytes, manifest.layers.length, { image, blob: manifest.config.digest });
  const layers: PulledLayer[] = manifest.layers.map((descriptor, index) => ({ descriptor, diffId: config.rootfs.diff_ids[index] ?? '' }));
  const configPlatform: Platform = normalizePlatform({
    os: config.os ?? platform.os,
    architecture: config.architecture ?? platform.architecture,
    ...(config.variant === undefined ? {} : { variant: config.variant }),
  });
  options.log?.info(`${image}: manifest ${manifestDigest} (${formatPlatform(configPlatform)}, ${layers.length} layers) from ${source.label}`);
  return { reference, manifestDigest, platform: configPlatform, config, configDigest: manifest.config.digest, manifest, layers, source: source.label, configDownloaded, sourceRef: source, blobSources, topDigest };
}
