// cosign's signature images: the signature of manifest D in repository R is the image tagged
// `sha256-<hex of D>.sig` in R. Fetched through the same mirror chain as images (a mirror that
// holds no such tag hands over to the next source; one that serves a signature is believed only
// as far as the signature verifies), and hashed like any other blob.
import { OcinitError } from '../log/errors.ts';
import { parseDigest } from '../oci/digest.ts';
import { downloadBlob } from '../oci/download.ts';
import type { PullOptions } from '../oci/pull.ts';
import type { ImageReference } from '../oci/reference.ts';
import { fetchManifest } from '../oci/resolve.ts';
import { withSources } from '../oci/sources.ts';
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

/** The candidate signatures for `digest` of `reference`'s repository; none when no source has the tag. */
export async function fetchSignatures(reference: ImageReference, digest: string, options: PullOptions): Promise<FoundSignatures> {
  const location = signatureReference(reference, digest);
  const tag = signatureTag(digest);
  return withSources(location, options, async (sources) => {
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
      const { document } = fetched;
      const where = `${location} from ${source.label}`;
      if (document.kind !== 'manifest') throw new OcinitError(`signature image ${where} is an index, not a cosign signature manifest`, { image: location });
      if (document.layers.length > MAX_SIGNATURES) throw new OcinitError(`signature image ${where} has ${document.layers.length} layers (limit ${MAX_SIGNATURES})`, { image: location });
      const blobSources = sources.slice(index);
      const signatures: CandidateSignature[] = [];
      for (const layer of document.layers) {
        if (layer.mediaType !== SIMPLE_SIGNING_TYPE) throw new OcinitError(`signature image ${where} has a layer of media type ${layer.mediaType}, not ${SIMPLE_SIGNING_TYPE}`, { image: location, blob: layer.digest });
        if (layer.size > MAX_PAYLOAD_BYTES) throw new OcinitError(`signature payload ${layer.digest} in ${where} is ${layer.size} bytes (limit ${MAX_PAYLOAD_BYTES})`, { image: location, blob: layer.digest });
        let payload = await options.store.read(layer.digest, layer.size);
        if (payload === undefined) {
          await downloadBlob(blobSources, layer, location, options.store, undefined);
          payload = await options.store.read(layer.digest, layer.size);
        }
        if (payload === undefined) throw new OcinitError(`signature payload ${layer.digest} vanished from the store`, { image: location, blob: layer.digest });
        signatures.push({ digest: layer.digest, payload, signature: layer.annotations?.[SIGNATURE_ANNOTATION] });
      }
      return { location: where, signatures };
    }
    return { location, signatures: [] };
  });
}
