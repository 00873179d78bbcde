// `ocinit sign --bundle`: cosign v3's form of a signature, a key-based Sigstore bundle pushed as an
// OCI 1.1 referrer of the image (cosign's BUNDLE_SPEC.md). A registry with the referrers API says
// so with an OCI-Subject header; for one without (Debian's docker-registry 2.8) the referrers tag
// schema's index `sha256-HEX` is updated too, keeping the referrers already listed.
import { OcinitError } from '../log/errors.ts';
import { digestOf } from '../digest/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { OCI_INDEX, OCI_MANIFEST } from '../oci/media-types.ts';
import { referrersTag } from '../oci/referrers.ts';
import { fetchManifest } from '../oci/resolve.ts';
import type { Source } from '../oci/sources.ts';
import { RegistryError } from '../oci/transport.ts';
import { pushBlob, pushManifest } from './push.ts';
import { BUNDLE_MEDIA_TYPE, COSIGN_SIGN_PREDICATE } from './sigstore-bundle.ts';

const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json';

/** The referrers listed at the tag, none when the tag is absent; refuses to replace anything else. */
async function listedReferrers(source: Source, tag: string, image: string): Promise<Descriptor[]> {
  try {
    const { document } = await fetchManifest(source, tag, undefined, image);
    if (document.kind !== 'index') throw new OcinitError(`${image} holds an image manifest at ${tag}, not a referrers index; refusing to replace it`, { image });
    return document.manifests;
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return [];
    throw error;
  }
}

export interface PushedBundle {
  /** The referrer manifest's digest. */
  digest: string;
  /** `referrers API` or `tag sha256-HEX`: how readers find it. */
  listed: string;
}

/** Pushes `bundle` as a referrer of `subject` (the signed manifest) in the source's repository. */
export async function pushBundleReferrer(source: Source, subject: Descriptor, bundle: Buffer, image: string): Promise<PushedBundle> {
  const scope = `repository:${source.repository}:pull,push`;
  const what = `pushing a Sigstore bundle of ${subject.digest} to ${image}`;
  const layer = await pushBlob(source, bundle, scope, what);
  const empty = await pushBlob(source, Buffer.from('{}'), scope, what);
  const annotations = { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: BUNDLE_MEDIA_TYPE,
      config: { ...empty, mediaType: EMPTY_TYPE },
      layers: [{ ...layer, mediaType: BUNDLE_MEDIA_TYPE }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  const digest = digestOf(manifest);
  const headers = await pushManifest(source, digest, manifest, OCI_MANIFEST, scope, what, image);
  if (headers['oci-subject'] === subject.digest) return { digest, listed: 'referrers API' };
  const tag = referrersTag(subject.digest);
  const listed = (await listedReferrers(source, tag, image)).filter((entry) => entry.digest !== digest);
  listed.push({ mediaType: OCI_MANIFEST, digest, size: manifest.length, artifactType: BUNDLE_MEDIA_TYPE, annotations });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: listed }));
  await pushManifest(source, tag, index, OCI_INDEX, scope, what, image);
  return { digest, listed: `tag ${tag}` };
}
