import { downloadLayers, missingLayers, type BlobTee, type DownloadTally } from './download.ts';
import type { Descriptor } from './manifest.ts';
import { hostPlatform, normalizePlatform } from './platform.ts';
import { refName, resolveImage } from './resolve.ts';
import { withSources, type Source } from './sources.ts';
import type { PulledImage, PullOptions, ResolvedImage } from './types.ts';
import { applyLayer, applyLayerFeed, LayerFeed, prepareStaging, UnpackingStoppedError } from './unpack.ts';
import type { UnpackLimits } from './unpack-layer.ts';
import type { ImageReference } from '../reference/reference.ts';

export type { ImageVerdict, ImageVerifier, LayerProgress, PulledImage, PulledLayer, PullOptions, ResolvedImage } from './types.ts';
export type { MirrorConfig, RegistryMirror } from './mirrors.ts';

/** Resolves a reference to its manifest and config for the platform, without downloading layers. */
export async function inspectImage(reference: ImageReference, options: PullOptions): Promise<ResolvedImage> {
  return withSources(reference, options, async (sources) => {
    const { sourceRef: _source, blobSources: _blobSources, topDigest, ...resolved } = await resolveImage(reference, sources, options);
    const verdict = await options.verifier?.verify({ ...resolved, topDigest }, options);
    return verdict === undefined ? resolved : { ...resolved, verdict };
  });
}

function rememberReference(resolved: ResolvedImage, topDigest: string, options: PullOptions): Promise<void> {
  return options.store.setRef(refName(resolved.reference.canonical, normalizePlatform(options.platform ?? hostPlatform())), topDigest);
}

/**
 * Resolves `reference` for the platform, then downloads and verifies the config and every layer
 * into the store (blobs already there are not downloaded again). Mirrors are tried first.
 */
export async function pullImage(reference: ImageReference, options: PullOptions): Promise<PulledImage> {
  return pullAndUnpack(reference, () => undefined, options);
}

/**
 * Where pullAndUnpack unpacks an image: a directory, or a choice made once the manifest is known
 * (undefined: only store the blobs, e.g. because an unpacked tree of that manifest exists already).
 */
export type UnpackTarget = string | ((resolved: ResolvedImage) => string | undefined);

/**
 * pullImage + unpackImage with the two overlapped: every missing layer downloads at once (a few at a
 * time), the first layer is unpacked from its bytes as they arrive (while they are also written to
 * the store), and each later layer is unpacked as soon as it is complete, strictly in order. The
 * target appears only after every digest, size and diff_id matched.
 */
export async function pullAndUnpack(reference: ImageReference, target: UnpackTarget, options: PullOptions & { limits?: UnpackLimits }): Promise<PulledImage> {
  return withSources(reference, options, async (sources) => {
    const { sourceRef: _source, blobSources, topDigest, ...resolved } = await resolveImage(reference, sources, options);
    const verdict = await options.verifier?.verify({ ...resolved, topDigest }, options);
    const tally: DownloadTally = { blobs: resolved.configDownloaded ? 1 : 0, bytes: resolved.configDownloaded ? resolved.manifest.config.size : 0 };
    const missing = await missingLayers(resolved.manifest, options.store);
    const targetDir = typeof target === 'string' ? target : target(resolved);
    if (targetDir === undefined) {
      const downloads = downloadLayers(blobSources, resolved, missing, options, tally);
      try {
        await Promise.all(downloads.values());
      } catch (error) {
        await abandonDownloads(blobSources, downloads);
        throw error;
      }
    } else await downloadAndUnpack(blobSources, resolved, missing, targetDir, options, tally);
    await rememberReference(resolved, topDigest, options);
    const { configDownloaded: _configDownloaded, ...image } = resolved;
    return { ...image, blobsDownloaded: tally.blobs, bytesDownloaded: tally.bytes, ...(verdict === undefined ? {} : { verdict }) };
  });
}

async function downloadAndUnpack(
  sources: readonly Source[],
  resolved: ResolvedImage,
  missing: Descriptor[],
  targetDir: string,
  options: PullOptions & { limits?: UnpackLimits },
  tally: DownloadTally,
): Promise<void> {
  const image = resolved.reference.canonical;
  const staging = prepareStaging(targetDir, image, options.limits);
  let downloads = new Map<string, Promise<void>>();
  try {
    const first = resolved.layers[0];
    const streamed = first !== undefined && missing[0]?.digest === first.descriptor.digest && resolved.layers.filter((layer) => layer.descriptor.digest === first.descriptor.digest).length === 1 ? new LayerFeed() : undefined;
    const tees = new Map<string, BlobTee>();
    if (streamed !== undefined && first !== undefined) tees.set(first.descriptor.digest, streamed);
    downloads = downloadLayers(sources, resolved, missing, options, tally, tees);
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
        // A download stopped because unpacking failed: the unpacker's error is the reason (an unsafe
        // entry, a full disk). Otherwise the download's failure came first.
        if (unpacked.status === 'rejected' && (downloaded.status === 'fulfilled' || downloaded.reason instanceof UnpackingStoppedError)) throw unpacked.reason;
        if (downloaded.status === 'rejected') throw downloaded.reason;
      } else {
        await download;
        await applyLayer(options.store, layer, staging.state, image, { justVerified: download !== undefined });
      }
    }
    await Promise.all(downloads.values());
    staging.commit();
  } catch (error) {
    await abandonDownloads(sources, downloads);
    staging.discard();
    throw error;
  }
}

/**
 * After a failure: cuts off the downloads still running and waits for each to remove its temporary
 * file, so that nothing half-written is left in the store when the failure is reported.
 */
async function abandonDownloads(sources: readonly Source[], downloads: Map<string, Promise<void>>): Promise<void> {
  await Promise.all(sources.map((source) => source.transport.destroy()));
  await Promise.allSettled(downloads.values());
}
