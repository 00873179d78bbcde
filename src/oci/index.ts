// The OCI side of ocinit: references, registry client, verification and unpacking.
export { parseReference, manifestReference, type ImageReference } from '../reference/reference.ts';
export { parsePlatform, formatPlatform, hostPlatform, normalizePlatform, type Platform } from './platform.ts';
export { parseCredentials, type Credentials } from './auth.ts';
export { inspectImage, pullAndUnpack, pullImage, type ResolvedImage, type PullOptions, type PulledImage, type ImageVerifier, type ImageVerdict, type PulledLayer, type MirrorConfig, type RegistryMirror, type LayerProgress } from './pull.ts';
export { unpackImage, unpackLayers, applyLayer, type UnpackOptions } from './unpack.ts';
export { DEFAULT_LIMITS, flattenWhiteouts, overlayWhiteouts, LayerApplier, UnpackState, type UnpackLimits, type WhiteoutStrategy } from './unpack-layer.ts';
export type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from './manifest.ts';
