import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Secret } from '../log/secret.ts';
import { mismatch, type ContentStore } from '../store/index.ts';
import { credentialsFromAuthFile, type Credentials } from './auth.ts';
import { digestOf, parseDigest } from './digest.ts';
import {
  isContainerImage,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  parseImageConfig,
  parseManifestDocument,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from './manifest.ts';
import { layerCompression, MANIFEST_ACCEPT } from './media-types.ts';
import { noteStreamedBytes } from './memory.ts';
import { applyLayer, applyLayerFeed, LayerFeed, prepareStaging } from './unpack.ts';
import type { UnpackLimits } from './unpack-layer.ts';
import { formatPlatform, hostPlatform, listPlatforms, normalizePlatform, selectPlatform, type Platform } from './platform.ts';
import { manifestReference, parseReference, type ImageReference } from './reference.ts';
import { RegistryTransport, RegistryUnreachableError, type RegistryResponse } from './transport.ts';

/** A mirror tried before the registry it mirrors: `host[:port][/path/prefix]`. */
export interface RegistryMirror {
  location: string;
  /** Plain HTTP allowed and certificates not checked for this mirror. */
  insecure?: boolean;
}

/** registries.conf-style: registry as written in references (`docker.io`, `host:5000`) → its mirrors, in order. */
export type MirrorConfig = Record<string, RegistryMirror[]>;

export interface LayerProgress {
  digest: string;
  received: number;
  total: number;
  done: boolean;
}

export interface PullOptions {
  store: ContentStore;
  platform?: Platform;
  tlsVerify?: boolean;
  credentials?: { username: string; password: Secret };
  authfile?: string;
  caFile?: string;
  mirrors?: MirrorConfig;
  proxy?: string;
  log?: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: LayerProgress) => void;
  /** Network tuning (tests shorten these): per-request inactivity timeout, attempts, first retry delay. */
  timeoutMs?: number;
  attempts?: number;
  retryDelayMs?: number;
  /** Blobs downloaded at the same time (default 3). */
  concurrency?: number;
}

export interface PulledLayer {
  descriptor: Descriptor;
  diffId: string;
}

export interface PulledImage {
  reference: ImageReference;
  manifestDigest: string;
  platform: Platform;
  config: ImageConfig;
  configDigest: string;
  manifest: ImageManifest;
  layers: PulledLayer[];
  /** Where the image came from (a mirror or the registry itself). */
  source: string;
  blobsDownloaded: number;
  bytesDownloaded: number;
}

interface Source {
  label: string;
  repository: string;
  transport: RegistryTransport;
}

const MAX_INDEX_DEPTH = 2;
const MAX_RESUMES = 5;

function scopeOf(repository: string): string {
  return `repository:${repository}:pull`;
}

async function readCapped(response: RegistryResponse, cap: number, what: string, host: string): Promise<Buffer> {
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

async function buildSources(reference: ImageReference, options: PullOptions): Promise<Source[]> {
  const transportOptions = {
    caFile: options.caFile,
    proxy: options.proxy,
    log: options.log,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    attempts: options.attempts,
    retryDelayMs: options.retryDelayMs,
  };
  const sources: Source[] = [];
  for (const mirror of options.mirrors?.[reference.registry] ?? []) {
    const slash = mirror.location.indexOf('/');
    const host = slash < 0 ? mirror.location : mirror.location.slice(0, slash);
    const prefix = slash < 0 ? '' : mirror.location.slice(slash + 1).replace(/\/+$/, '');
    const repository = prefix === '' ? reference.repository : `${prefix}/${reference.repository}`;
    const credentials = options.authfile === undefined ? undefined : await credentialsFromAuthFile(options.authfile, host, repository);
    sources.push({
      label: `mirror ${mirror.location}`,
      repository,
      transport: new RegistryTransport({ ...transportOptions, host, tlsVerify: !(mirror.insecure ?? false), credentials }),
    });
  }
  let credentials: Credentials | undefined = options.credentials;
  if (credentials === undefined && options.authfile !== undefined) credentials = await credentialsFromAuthFile(options.authfile, reference.registry, reference.repository);
  sources.push({
    label: `registry ${reference.registry}`,
    repository: reference.repository,
    transport: new RegistryTransport({ ...transportOptions, host: reference.apiHost, tlsVerify: options.tlsVerify ?? true, credentials }),
  });
  return sources;
}

/** Fetches a manifest by tag or digest and checks it against the digest it must have. */
async function fetchManifest(
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

function refName(image: string, platform: Platform): string {
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

async function fetchConfig(source: Source, manifest: ImageManifest, image: string, store: ContentStore): Promise<{ bytes: Buffer; downloaded: boolean }> {
  const descriptor = manifest.config;
  if (descriptor.size > MAX_CONFIG_BYTES) throw new OcinitError(`image config of ${descriptor.size} bytes (limit ${MAX_CONFIG_BYTES}); refused`, { image, blob: descriptor.digest });
  const cached = await store.read(descriptor.digest, descriptor.size);
  if (cached !== undefined) return { bytes: cached, downloaded: false };
  await downloadBlob(source, descriptor, image, store, undefined);
  const bytes = await store.read(descriptor.digest, descriptor.size);
  if (bytes === undefined) throw new OcinitError(`image config ${descriptor.digest} vanished from the store`, { image, blob: descriptor.digest });
  return { bytes, downloaded: true };
}

/**
 * Streams a blob into the store: hashed as it arrives, resumed with Range after a broken connection
 * (the hash continues over the whole blob), committed only when digest and size match.
 */
async function downloadBlob(
  source: Source,
  descriptor: Descriptor,
  image: string,
  store: ContentStore,
  onProgress: PullOptions['onProgress'],
  tee?: (chunk: Buffer) => Promise<void>,
): Promise<void> {
  const what = `downloading blob ${descriptor.digest} of ${image}`;
  const writer = await store.writer(descriptor.digest, descriptor.size);
  try {
    for (let resumes = 0; ; resumes++) {
      const offset = writer.size;
      const response = await source.transport.blob(`/v2/${source.repository}/blobs/${descriptor.digest}`, scopeOf(source.repository), what, offset);
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
      try {
        for await (const chunk of response.body) {
          await writer.write(chunk as Buffer);
          noteStreamedBytes((chunk as Buffer).length);
          if (tee !== undefined) await tee(chunk as Buffer);
          onProgress?.({ digest: descriptor.digest, received: writer.size, total: descriptor.size, done: false });
        }
        break;
      } catch (error) {
        if (error instanceof OcinitError || resumes >= MAX_RESUMES) throw error instanceof OcinitError ? error : new OcinitError(`${what} failed after ${resumes} resumptions: ${(error as Error).message}`, { image, blob: descriptor.digest, cause: error });
        source.transport.log?.warn(`registry ${source.transport.host}: ${what} broke at byte ${writer.size} (${(error as Error).message}); resuming`);
      }
    }
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

export type ResolvedImage = Omit<PulledImage, 'blobsDownloaded' | 'bytesDownloaded'> & { configDownloaded: boolean };

async function resolveImage(referenceText: string, sources: Source[], options: PullOptions): Promise<ResolvedImage & { sourceRef: Source; topDigest: string }> {
  const reference = parseReference(referenceText);
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
        const cached = error instanceof RegistryUnreachableError ? await resolveFromStore(reference, platform, options) : undefined;
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
  const { bytes: configBytes, downloaded: configDownloaded } = await fetchConfig(source, manifest, image, options.store);
  const config = parseImageConfig(configBytes, manifest.layers.length, { image, blob: manifest.config.digest });
  const layers: PulledLayer[] = manifest.layers.map((descriptor, index) => ({ descriptor, diffId: config.rootfs.diff_ids[index] ?? '' }));
  const configPlatform: Platform = normalizePlatform({
    os: config.os ?? platform.os,
    architecture: config.architecture ?? platform.architecture,
    ...(config.variant === undefined ? {} : { variant: config.variant }),
  });
  options.log?.info(`${image}: manifest ${manifestDigest} (${formatPlatform(configPlatform)}, ${layers.length} layers) from ${source.label}`);
  return { reference, manifestDigest, platform: configPlatform, config, configDigest: manifest.config.digest, manifest, layers, source: source.label, configDownloaded, sourceRef: source, topDigest };
}

/** Resolves a reference to its manifest and config for the platform, without downloading layers. */
export async function inspectImage(referenceText: string, options: PullOptions): Promise<ResolvedImage> {
  return withSources(referenceText, options, async (sources) => {
    const { sourceRef: _source, topDigest: _top, ...resolved } = await resolveImage(referenceText, sources, options);
    return resolved;
  });
}

interface DownloadTally {
  blobs: number;
  bytes: number;
}

/** Downloads the missing layers (each once), `limit` at a time; returns one promise per digest. */
function downloadLayers(
  source: Source,
  resolved: ResolvedImage,
  missing: Descriptor[],
  options: PullOptions,
  tally: DownloadTally,
  tees: Map<string, (chunk: Buffer) => Promise<void>> = new Map(),
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

async function missingLayers(manifest: ImageManifest, store: ContentStore): Promise<Descriptor[]> {
  const missing: Descriptor[] = [];
  for (const layer of manifest.layers) {
    if (missing.some((other) => other.digest === layer.digest)) continue;
    if (!(await store.has(layer.digest, layer.size))) missing.push(layer);
  }
  return missing;
}

async function withSources<T>(referenceText: string, options: PullOptions, body: (sources: Source[]) => Promise<T>): Promise<T> {
  const sources = await buildSources(parseReference(referenceText), options);
  let result: T;
  try {
    result = await body(sources);
  } catch (error) {
    // Downloads still running after a failure are cut off rather than waited for.
    await Promise.all(sources.map((source) => source.transport.destroy()));
    throw error;
  }
  await Promise.all(sources.map((source) => source.transport.close()));
  return result;
}

function rememberReference(resolved: ResolvedImage, topDigest: string, options: PullOptions): Promise<void> {
  return options.store.setRef(refName(resolved.reference.canonical, normalizePlatform(options.platform ?? hostPlatform())), topDigest);
}

/**
 * Resolves `referenceText` for the platform, then downloads and verifies the config and every layer
 * into the store (blobs already there are not downloaded again). Mirrors are tried first.
 */
export async function pullImage(referenceText: string, options: PullOptions): Promise<PulledImage> {
  return withSources(referenceText, options, async (sources) => {
    const { sourceRef, topDigest, configDownloaded, ...resolved } = await resolveImage(referenceText, sources, options);
    const tally: DownloadTally = { blobs: configDownloaded ? 1 : 0, bytes: configDownloaded ? resolved.manifest.config.size : 0 };
    const downloads = downloadLayers(sourceRef, { ...resolved, configDownloaded }, await missingLayers(resolved.manifest, options.store), options, tally);
    await Promise.all(downloads.values());
    await rememberReference({ ...resolved, configDownloaded }, topDigest, options);
    return { ...resolved, blobsDownloaded: tally.blobs, bytesDownloaded: tally.bytes };
  });
}

/**
 * pullImage + unpackImage with the two overlapped: every missing layer downloads at once (a few at a
 * time), the first layer is unpacked from its bytes as they arrive (while they are also written to
 * the store), and each later layer is unpacked as soon as it is complete, strictly in order. The
 * target appears only after every digest, size and diff_id matched.
 */
export async function pullAndUnpack(referenceText: string, targetDir: string, options: PullOptions & { limits?: UnpackLimits }): Promise<PulledImage> {
  return withSources(referenceText, options, async (sources) => {
    const { sourceRef, topDigest, configDownloaded, ...resolved } = await resolveImage(referenceText, sources, options);
    const image = resolved.reference.canonical;
    const tally: DownloadTally = { blobs: configDownloaded ? 1 : 0, bytes: configDownloaded ? resolved.manifest.config.size : 0 };
    const staging = prepareStaging(targetDir, image, options.limits);
    try {
      const missing = await missingLayers(resolved.manifest, options.store);
      const first = resolved.layers[0];
      const streamed = first !== undefined && missing[0]?.digest === first.descriptor.digest && resolved.layers.filter((layer) => layer.descriptor.digest === first.descriptor.digest).length === 1 ? new LayerFeed() : undefined;
      const tees = new Map<string, (chunk: Buffer) => Promise<void>>();
      if (streamed !== undefined && first !== undefined) tees.set(first.descriptor.digest, (chunk) => streamed.push(chunk));
      const downloads = downloadLayers(sourceRef, { ...resolved, configDownloaded }, missing, options, tally, tees);
      for (const [index, layer] of resolved.layers.entries()) {
        const download = downloads.get(layer.descriptor.digest);
        if (index === 0 && streamed !== undefined && download !== undefined) {
          const fed = download.then(
            () => streamed.end(),
            (error: unknown) => {
              streamed.fail(error);
              throw error;
            },
          );
          const [downloaded, unpacked] = await Promise.allSettled([fed, applyLayerFeed(streamed, layer, staging.state, image)]);
          if (downloaded.status === 'rejected') throw downloaded.reason;
          if (unpacked.status === 'rejected') throw unpacked.reason;
        } else {
          await download;
          await applyLayer(options.store, layer, staging.state, image);
        }
      }
      await Promise.all(downloads.values());
      staging.commit();
    } catch (error) {
      staging.discard();
      throw error;
    }
    await rememberReference({ ...resolved, configDownloaded }, topDigest, options);
    return { ...resolved, blobsDownloaded: tally.blobs, bytesDownloaded: tally.bytes };
  });
}
