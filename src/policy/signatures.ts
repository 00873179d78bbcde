// cosign's signature images: the signature of manifest D in repository R is the image tagged
// `sha256-<hex of D>.sig` in R. Fetched through the same mirror chain as images (a mirror that
// holds no such tag hands over to the next source; one that serves a signature is believed only
// as far as the signature verifies), and hashed like any other blob.
import { OcinitError } from '../log/errors.ts';
import { parseDigest } from '../digest/digest.ts';
import { downloadBlob } from '../oci/download.ts';
import type { PullOptions } from '../oci/pull.ts';
import { taggedReference, type ImageReference } from '../reference/reference.ts';
import { parseManifestDocument, type Descriptor, type ImageIndex, type ImageManifest } from '../oci/manifest.ts';
import { fetchManifest } from '../oci/resolve.ts';
import { withSources, type Source } from '../oci/sources.ts';
import { RegistryError, RegistryUnreachableError } from '../oci/transport.ts';
import type { CandidateSignature, FoundSignatures } from './judge.ts';
import { MAX_PAYLOAD_BYTES, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';

/** More signatures than this on one image is not a signature image ocinit will read. */
const MAX_SIGNATURES = 64;

/** `sha256:HEX` → `sha256-HEX.sig`. */
export function signatureTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}.sig`;
}

/** `registry/repository:sha256-HEX.sig`, the reference of a digest's signature image. */
export function signatureReference(reference: ImageReference, digest: string): string {
  return `${reference.registry}/${reference.repository}:${signatureTag(digest)}`;
}

function signatureRef(location: string): string {
  return `signature|${location}`;
}

/** A small blob (a payload, a bundle) from the store, else downloaded and verified into it. */
export async function storedOrDownloaded(sources: readonly Source[], layer: Descriptor, location: string, options: PullOptions): Promise<Buffer> {
  let bytes = await options.store.read(layer.digest, layer.size);
  if (bytes === undefined) {
    await downloadBlob(sources, layer, location, options.store, undefined);
    bytes = await options.store.read(layer.digest, layer.size);
  }
  if (bytes === undefined) throw new OcinitError(`blob ${layer.digest} of ${location} vanished from the store`, { image: location, blob: layer.digest });
  return bytes;
}

/** The simple-signing layers of a signature manifest as candidates, each payload got by `payloadOf`. */
async function candidatesOf(document: ImageIndex | ImageManifest, where: string, location: string, payloadOf: (layer: Descriptor) => Promise<Buffer>): Promise<CandidateSignature[]> {
  if (document.kind !== 'manifest') throw new OcinitError(`signature image ${where} is an index, not a cosign signature manifest`, { image: location });
  if (document.layers.length > MAX_SIGNATURES) throw new OcinitError(`signature image ${where} has ${document.layers.length} layers (limit ${MAX_SIGNATURES})`, { image: location });
  const signatures: CandidateSignature[] = [];
  for (const layer of document.layers) {
    if (layer.mediaType !== SIMPLE_SIGNING_TYPE) throw new OcinitError(`signature image ${where} has a layer of media type ${layer.mediaType}, not ${SIMPLE_SIGNING_TYPE}`, { image: location, blob: layer.digest });
    if (layer.size > MAX_PAYLOAD_BYTES) throw new OcinitError(`signature payload ${layer.digest} in ${where} is ${layer.size} bytes (limit ${MAX_PAYLOAD_BYTES})`, { image: location, blob: layer.digest });
    signatures.push({ kind: 'simple-signing', digest: layer.digest, payload: await payloadOf(layer), signature: layer.annotations?.[SIGNATURE_ANNOTATION] });
  }
  return signatures;
}

async function fetchFromSources(reference: ImageReference, digest: string, options: PullOptions): Promise<FoundSignatures> {
  const location = signatureReference(reference, digest);
  const tag = signatureTag(digest);
  return withSources(taggedReference(reference, tag), options, async (sources) => {
    for (const [index, source] of sources.entries()) {
      const last = index === sources.length - 1;
      let fetched;
      try {
        fetched = await fetchManifest(source, tag, undefined, location);
      } catch (error) {
        const absent = error instanceof RegistryError && error.status === 404;
        if (!last && (absent || error instanceof RegistryUnreachableError)) {
          if (!absent) options.log?.warn(`${source.label} failed for ${location}: ${(error as Error).message}; trying the next source`);
          continue;
        }
        if (absent) return { location, signatures: [] };
        throw error;
      }
      const where = `${location} from ${source.label}`;
      const blobSources = sources.slice(index);
      const signatures = await candidatesOf(fetched.document, where, location, (layer) => storedOrDownloaded(blobSources, layer, location, options));
      // Kept for an outage: a signature verifies the same whenever it was fetched.
      await options.store.put(fetched.digest, fetched.bytes);
      await options.store.setRef(signatureRef(location), fetched.digest);
      return { location: where, signatures };
    }
    return { location, signatures: [] };
  });
}

/** The signature image of `location` as the store kept it when last fetched, if it is all there and verifies. */
async function storedSignatures(location: string, options: PullOptions): Promise<FoundSignatures | undefined> {
  const digest = await options.store.getRef(signatureRef(location));
  if (digest === undefined) return undefined;
  const bytes = await options.store.readVerified(digest);
  if (bytes === undefined) return undefined;
  try {
    const document = parseManifestDocument(bytes, undefined, { image: location, blob: digest });
    const signatures = await candidatesOf(document, `${location} (stored)`, location, async (layer) => {
      const payload = await options.store.read(layer.digest, layer.size);
      if (payload === undefined) throw new OcinitError(`signature payload ${layer.digest} is not in the store`);
      return payload;
    });
    return { location: `${location} (stored ${digest})`, signatures };
  } catch {
    return undefined;
  }
}

/**
 * The candidate signatures for `digest` of `reference`'s repository; none when no source has the
 * tag. When no source can be reached, the signature image as last fetched is used from the store,
 * with a warning (b2c.cache_offline runs stay signed; a signature removed since is not noticed).
 */
export async function fetchSignatures(reference: ImageReference, digest: string, options: PullOptions): Promise<FoundSignatures> {
  const location = signatureReference(reference, digest);
  return orAsStored(() => fetchFromSources(reference, digest, options), () => storedSignatures(location, options), `the signatures of ${location}`, options);
}

/**
 * `fetch`'s signatures; when no source can be reached, those `stored` gives (as last fetched), with
 * a warning naming `what`, else the outage itself.
 */
export async function orAsStored(fetch: () => Promise<FoundSignatures>, stored: () => Promise<FoundSignatures | undefined>, what: string, options: PullOptions): Promise<FoundSignatures> {
  try {
    return await fetch();
  } catch (error) {
    if (!(error instanceof RegistryUnreachableError)) throw error;
    const kept = await stored();
    if (kept === undefined) throw error;
    options.log?.warn(`${error.message}; using ${what} stored when they were last fetched`);
    return kept;
  }
}
