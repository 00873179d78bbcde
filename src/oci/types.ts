// The types the oci/ modules share, and the public API shows: a leaf, importing no module that
// does the work, so that resolve, download, sources and unpack never import the façade (pull.ts).
import type { Logger } from '../log/logger.ts';
import type { Secret } from '../log/secret.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';
import type { ContentStore } from '../store/index.ts';
import type { Descriptor, ImageConfig, ImageManifest } from './manifest.ts';
import type { MirrorConfig } from './mirrors.ts';
import type { Platform } from './platform.ts';
import type { ImageReference } from '../reference/reference.ts';

export interface LayerProgress {
  digest: string;
  received: number;
  total: number;
  done: boolean;
}

/** What a verifier concluded about an image it let through, for the log and the summary. */
export interface ImageVerdict {
  signed: boolean;
  text: string;
}

/**
 * Decides whether a resolved image may be used, before any of its layers is downloaded: throws
 * (naming the image and the reason) to refuse it. `topDigest` is what the reference resolved to:
 * for a multi-arch image, the index's digest.
 */
export interface ImageVerifier {
  verify(image: { reference: ImageReference; topDigest: string; manifestDigest: string }, options: PullOptions): Promise<ImageVerdict>;
}

export interface PullOptions {
  store: ContentStore;
  /** A signature policy (src/policy): without one every verified image is used, as before. */
  verifier?: ImageVerifier;
  platform?: Platform;
  tlsVerify?: boolean;
  credentials?: { username: string; password: Secret };
  authfile?: string;
  caFile?: string;
  mirrors?: MirrorConfig;
  /** b2c.proxy. */
  proxy?: ProxyConfig | undefined;
  log?: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: LayerProgress) => void;
  /** Network tuning (tests shorten these): per-request inactivity timeout, attempts, first retry delay. */
  timeoutMs?: number;
  attempts?: number;
  retryDelayMs?: number;
  /** Blobs downloaded at the same time (default 3). */
  concurrency?: number;
  /**
   * When no registry can be reached, use the image as an earlier pull left it in the store, with a
   * warning (default true). The boot's cache turns it off: b2c.cache_offline decides there.
   */
  storeFallback?: boolean;
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
  /** The verifier's verdict; undefined when there was no verifier. */
  verdict?: ImageVerdict;
}

export type ResolvedImage = Omit<PulledImage, 'blobsDownloaded' | 'bytesDownloaded'> & { configDownloaded: boolean };
