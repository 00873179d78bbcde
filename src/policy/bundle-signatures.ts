// cosign v3's Sigstore bundles of an image: OCI 1.1 referrers of its digest whose artifactType is
// the bundle's media type, each a manifest with the bundle as its one layer. Found through the
// referrers API or the referrers tag schema (src/oci/referrers.ts), from the same mirror chain as
// the image; every manifest fetched by digest and every bundle hashed like any other blob.
import { OcinitError } from '../log/errors.ts';
import { parseManifestDocument, type Descriptor, type ImageIndex, type ImageManifest } from '../oci/manifest.ts';
import type { PullOptions } from '../oci/pull.ts';
import { pinnedReference, type ImageReference } from '../reference/reference.ts';
import { fetchReferrers } from '../oci/referrers.ts';
import { fetchManifest } from '../oci/resolve.ts';
import { withSources } from '../oci/sources.ts';
import { RegistryUnreachableError } from '../oci/transport.ts';
import type { CandidateSignature, FoundSignatures } from './judge.ts';
import { BUNDLE_MEDIA_TYPE, MAX_BUNDLE_BYTES } from './sigstore-bundle.ts';
import { orAsStored, storedOrDownloaded } from './signatures.ts';

/** More bundles than this on one image is not a referrers list ocinit will read. */
const MAX_BUNDLES = 64;

/** `registry/repository@DIGEST`, the image whose referrers are read. */
export function referrersSubject(reference: ImageReference, digest: string): string {
  return pinnedReference(reference, digest).canonical;
}

function referrersRef(subject: string): string {
  return `referrers|${subject}`;
}

interface BundleAccess {
  manifest: (entry: Descriptor) => Promise<ImageManifest | ImageIndex>;
  blob: (layer: Descriptor) => Promise<Buffer>;
}

/** One candidate per bundle referrer of `digest`; a referrer that cannot be one says why. */
async function candidatesOf(index: ImageIndex, digest: string, subject: string, access: BundleAccess): Promise<CandidateSignature[]> {
  if (index.manifests.length > MAX_BUNDLES) throw new OcinitError(`the referrers of ${subject} list ${index.manifests.length} bundles (limit ${MAX_BUNDLES})`, { image: subject });
  const candidates: CandidateSignature[] = [];
  for (const entry of index.manifests) {
    const unusable = (reason: string): CandidateSignature => ({ kind: 'unusable', digest: entry.digest, reason });
    const manifest = await access.manifest(entry);
    if (manifest.kind !== 'manifest') {
      candidates.push(unusable('is an index, not a bundle manifest'));
      continue;
    }
    if (manifest.subject?.digest !== digest) {
      candidates.push(unusable(`is a referrer of ${manifest.subject?.digest ?? 'nothing'}, not of ${digest} (listed for another image)`));
      continue;
    }
    const layer = manifest.layers.length === 1 ? manifest.layers[0] : undefined;
    if (layer === undefined || layer.mediaType !== BUNDLE_MEDIA_TYPE) {
      candidates.push(unusable(`must hold exactly one layer of media type ${BUNDLE_MEDIA_TYPE}`));
      continue;
    }
    if (layer.size > MAX_BUNDLE_BYTES) {
      candidates.push(unusable(`holds a bundle of ${layer.size} bytes (limit ${MAX_BUNDLE_BYTES})`));
      continue;
    }
    candidates.push({ kind: 'bundle', digest: entry.digest, bundle: await access.blob(layer) });
  }
  return candidates;
}

async function fetchFromSources(reference: ImageReference, digest: string, options: PullOptions): Promise<FoundSignatures> {
  const subject = referrersSubject(reference, digest);
  const location = `the referrers of ${subject}`;
  return withSources(pinnedReference(reference, digest), options, async (sources) => {
    for (const [at, source] of sources.entries()) {
      const last = at === sources.length - 1;
      let referrers;
      try {
        referrers = await fetchReferrers(source, digest, BUNDLE_MEDIA_TYPE, subject);
      } catch (error) {
        if (!last && error instanceof RegistryUnreachableError) {
          options.log?.warn(`${source.label} failed for ${location}: ${error.message}; trying the next source`);
          continue;
        }
        throw error;
      }
      if (referrers === undefined) {
        if (last) return { location, signatures: [] };
        continue;
      }
      const blobSources = sources.slice(at);
      const signatures = await candidatesOf(referrers.index, digest, subject, {
        manifest: async (entry) => {
          const fetched = await fetchManifest(source, entry.digest, { digest: entry.digest, size: entry.size }, subject);
          await options.store.put(fetched.digest, fetched.bytes);
          return fetched.document;
        },
        blob: (layer) => storedOrDownloaded(blobSources, layer, subject, options),
      });
      // Kept for an outage, as the .sig images are.
      await options.store.put(referrers.digest, referrers.bytes);
      await options.store.setRef(referrersRef(subject), referrers.digest);
      return { location: `${location} (${referrers.via}) from ${source.label}`, signatures };
    }
    return { location, signatures: [] };
  });
}

/** The bundles of `subject` as the store kept them when last fetched, if they are all there. */
async function storedBundles(subject: string, digest: string, options: PullOptions): Promise<FoundSignatures | undefined> {
  const indexDigest = await options.store.getRef(referrersRef(subject));
  if (indexDigest === undefined) return undefined;
  const stored = async (wanted: string): Promise<Buffer> => {
    const bytes = await options.store.readVerified(wanted);
    if (bytes === undefined) throw new OcinitError(`${wanted} is not in the store`);
    return bytes;
  };
  try {
    const index = parseManifestDocument(await stored(indexDigest), undefined, { image: subject, blob: indexDigest });
    if (index.kind !== 'index') return undefined;
    const bundles = { ...index, manifests: index.manifests.filter((entry) => entry.artifactType === BUNDLE_MEDIA_TYPE) };
    const signatures = await candidatesOf(bundles, digest, subject, {
      manifest: async (entry) => parseManifestDocument(await stored(entry.digest), undefined, { image: subject, blob: entry.digest }),
      blob: (layer) => stored(layer.digest),
    });
    return { location: `the referrers of ${subject} (stored ${indexDigest})`, signatures };
  } catch {
    return undefined;
  }
}

/**
 * The Sigstore bundles among the referrers of `digest` in `reference`'s repository; none when no
 * source has any. Through an outage, the referrers as last fetched are used, with a warning.
 */
export async function fetchBundles(reference: ImageReference, digest: string, options: PullOptions): Promise<FoundSignatures> {
  const subject = referrersSubject(reference, digest);
  return orAsStored(() => fetchFromSources(reference, digest, options), () => storedBundles(subject, digest, options), `the Sigstore bundles of ${subject}`, options);
}
