import { OcinitError } from '../log/errors.ts';
import { parseDigest } from '../digest/digest.ts';
import {
  baseMediaType,
  DOCKER_CONFIG,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  INDEX_TYPES,
  MANIFEST_TYPES,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
} from './media-types.ts';
import type { Platform } from './platform.ts';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  /** OCI 1.1: the artifact type of the manifest a referrers index entry points at. */
  artifactType?: string;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  /** OCI 1.1: the manifest this one refers to (a signature, SBOM... of it). */
  subject?: Descriptor;
}

/** The parts of the OCI image config that ocinit uses; the rest is kept as parsed. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
  created?: string;
  [key: string]: unknown;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const MAX_LAYERS = 1000;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(what: string, reason: string, context: { image?: string; blob?: string }): never {
  throw new OcinitError(`invalid ${what}: ${reason}`, { ...context, hint: 'the registry served a document ocinit cannot use; check the image was pushed completely' });
}

function parseJson(bytes: Uint8Array, what: string, context: { image?: string; blob?: string }): Json {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    fail(what, `not JSON (${(error as Error).message})`, context);
  }
  if (!isObject(value)) fail(what, 'not a JSON object', context);
  return value;
}

function parseDescriptor(value: unknown, what: string, context: { image?: string; blob?: string }): Descriptor {
  if (!isObject(value)) fail(what, 'descriptor is not an object', context);
  const { mediaType, digest, size, urls, annotations, platform } = value;
  if (typeof mediaType !== 'string' || mediaType === '') fail(what, 'descriptor without mediaType', context);
  if (typeof digest !== 'string') fail(what, 'descriptor without digest', context);
  try {
    parseDigest(digest, `${what} digest`);
  } catch (error) {
    fail(what, (error as Error).message, context);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail(what, `descriptor ${digest} has an invalid size`, context);
  const descriptor: Descriptor = { mediaType, digest, size };
  if (Array.isArray(urls) && urls.every((url) => typeof url === 'string')) descriptor.urls = urls;
  if (isObject(annotations)) {
    descriptor.annotations = Object.fromEntries(Object.entries(annotations).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  }
  if (isObject(platform) && typeof platform.os === 'string' && typeof platform.architecture === 'string') {
    descriptor.platform = { os: platform.os, architecture: platform.architecture };
    if (typeof platform.variant === 'string') descriptor.platform.variant = platform.variant;
  }
  if (typeof value.artifactType === 'string') descriptor.artifactType = value.artifactType;
  return descriptor;
}

/**
 * Validates a manifest or index as served, with the Content-Type the registry gave. Refuses schema 1,
 * documents that are both an index and a manifest, and a `mediaType` that contradicts the Content-Type.
 */
export function parseManifestDocument(bytes: Uint8Array, contentType: string | undefined, context: { image?: string; blob?: string }): ImageIndex | ImageManifest {
  const served = baseMediaType(contentType);
  if (served === DOCKER_SCHEMA1 || served === DOCKER_SCHEMA1_SIGNED) {
    throw new OcinitError('the registry only offers a Docker schema 1 manifest, which ocinit does not support', {
      ...context,
      hint: 'schema 1 is deprecated and unverifiable: push the image again with a current tool (docker, podman, skopeo, buildah)',
    });
  }
  const document = parseJson(bytes, 'manifest', context);
  if (document.schemaVersion === 1) {
    throw new OcinitError('this is a Docker schema 1 manifest, which ocinit does not support', { ...context, hint: 'push the image again with a current tool' });
  }
  if (document.schemaVersion !== 2) fail('manifest', `unsupported schemaVersion ${JSON.stringify(document.schemaVersion)}`, context);
  const declared = typeof document.mediaType === 'string' ? document.mediaType : undefined;
  const known = [...INDEX_TYPES, ...MANIFEST_TYPES];
  if (declared !== undefined && known.includes(served) && declared !== served) {
    fail('manifest', `its mediaType '${declared}' contradicts the Content-Type '${served}'`, context);
  }
  const hasManifests = 'manifests' in document;
  const hasImageFields = 'layers' in document || 'config' in document;
  if (hasManifests && hasImageFields) fail('manifest', 'it has both index (manifests) and image manifest (config, layers) fields', context);

  const mediaType = declared ?? (known.includes(served) ? served : hasManifests ? OCI_INDEX : OCI_MANIFEST);
  if (INDEX_TYPES.includes(mediaType)) {
    if (!hasManifests || !Array.isArray(document.manifests)) fail('index', 'no manifests list', context);
    return { kind: 'index', mediaType, manifests: document.manifests.map((entry) => parseDescriptor(entry, 'index entry', context)) };
  }
  if (!MANIFEST_TYPES.includes(mediaType)) fail('manifest', `unsupported media type '${mediaType}'`, context);
  if (hasManifests) fail('manifest', `an image manifest (${mediaType}) with a manifests list`, context);
  if (!Array.isArray(document.layers)) fail('manifest', 'no layers list', context);
  if (document.layers.length > MAX_LAYERS) fail('manifest', `${document.layers.length} layers (limit ${MAX_LAYERS})`, context);
  const manifest: ImageManifest = {
    kind: 'manifest',
    mediaType,
    config: parseDescriptor(document.config, 'manifest config', context),
    layers: document.layers.map((layer) => parseDescriptor(layer, 'manifest layer', context)),
  };
  if (typeof document.artifactType === 'string') manifest.artifactType = document.artifactType;
  if (document.subject !== undefined) manifest.subject = parseDescriptor(document.subject, 'manifest subject', context);
  return manifest;
}

/** True when the manifest describes a container image (not a Helm chart, signature, SBOM...). */
export function isContainerImage(manifest: ImageManifest): boolean {
  const configType = manifest.config.mediaType;
  return manifest.artifactType === undefined && (configType === OCI_CONFIG || configType === DOCKER_CONFIG);
}

export function parseImageConfig(bytes: Uint8Array, layerCount: number, context: { image?: string; blob?: string }): ImageConfig {
  const config = parseJson(bytes, 'image config', context);
  const rootfs = config.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) fail('image config', 'no rootfs.diff_ids of type layers', context);
  const diffIds = rootfs.diff_ids;
  for (const diffId of diffIds) {
    if (typeof diffId !== 'string') fail('image config', 'a diff_id is not a string', context);
    try {
      parseDigest(diffId, 'diff_id');
    } catch (error) {
      fail('image config', (error as Error).message, context);
    }
  }
  if (diffIds.length !== layerCount) fail('image config', `${diffIds.length} diff_ids for ${layerCount} layers in the manifest`, context);
  if (config.config !== undefined && config.config !== null && !isObject(config.config)) fail('image config', '"config" is not an object', context);
  return config as ImageConfig;
}

