// OCI 1.1 referrers of a manifest: the referrers API (`GET /v2/R/referrers/D`) or, on registries
// without it (a 404, as from Debian's docker-registry 2.8), the referrers tag schema: the index
// tagged `sha256-<hex of D>`. Either answer is an image index of descriptors with artifactType.
import { OcinitError } from '../log/errors.ts';
import { digestOf, parseDigest } from '../digest/digest.ts';
import { MAX_MANIFEST_BYTES, parseManifestDocument, type ImageIndex } from './manifest.ts';
import { OCI_INDEX } from './media-types.ts';
import { fetchManifest, readCapped } from './resolve.ts';
import { scopeOf, type Source } from './sources.ts';
import { RegistryError } from './transport.ts';

/** `sha256:HEX` → `sha256-HEX`, the referrers tag schema's tag for a digest. */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`;
}

export interface Referrers {
  index: ImageIndex;
  /** The index's own bytes and digest (kept in the store for an outage). */
  bytes: Buffer;
  digest: string;
  /** `referrers API` or `tag sha256-HEX`, for messages. */
  via: string;
}

/**
 * The referrers of `digest` in the source's repository whose artifactType is `artifactType`
 * (filtered here too: a registry may ignore the filter), or undefined when the source has neither
 * the API nor the fallback tag.
 */
export async function fetchReferrers(source: Source, digest: string, artifactType: string, image: string): Promise<Referrers | undefined> {
  const what = `listing the referrers of ${digest} of ${image}`;
  const path = `/v2/${source.repository}/referrers/${parseDigest(digest).text}?artifactType=${encodeURIComponent(artifactType)}`;
  const response = await source.transport.get(path, { scope: scopeOf(source.repository), what, headers: { accept: OCI_INDEX } });
  let found: Referrers;
  if (response.status === 200) {
    const bytes = await readCapped(response, MAX_MANIFEST_BYTES, 'referrers index', source.transport.host);
    const indexDigest = digestOf(bytes);
    const document = parseManifestDocument(bytes, response.headers['content-type'], { image, blob: indexDigest });
    if (document.kind !== 'index') throw new OcinitError(`registry ${source.transport.host} answered ${what} with an image manifest, not an index`, { image });
    found = { index: document, bytes, digest: indexDigest, via: 'referrers API' };
  } else if (response.status === 404) {
    await response.body.dump();
    const tag = referrersTag(digest);
    try {
      const fetched = await fetchManifest(source, tag, undefined, image);
      if (fetched.document.kind !== 'index') throw new OcinitError(`${source.label} holds an image manifest at ${tag}, where the referrers tag schema wants an index, while ${what}`, { image });
      found = { index: fetched.document, bytes: fetched.bytes, digest: fetched.digest, via: `tag ${tag}` };
    } catch (error) {
      if (error instanceof RegistryError && error.status === 404) return undefined;
      throw error;
    }
  } else {
    return source.transport.fail(response, what, { image });
  }
  return { ...found, index: { ...found.index, manifests: found.index.manifests.filter((entry) => entry.artifactType === artifactType) } };
}
