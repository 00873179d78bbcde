// `ocinit sign`: writes a cosign signature for an image into its registry (the `sha256-HEX.sig`
// tag), so that a lab can sign without installing cosign. Signatures already there are kept.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OcinitError } from '../log/errors.ts';
import { OCI_CONFIG, OCI_MANIFEST } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { PullOptions } from '../oci/pull.ts';
import { manifestReference, parseReference, type ImageReference } from '../reference/reference.ts';
import { fetchManifest } from '../oci/resolve.ts';
import { withSources, type Source } from '../oci/sources.ts';
import { RegistryError } from '../oci/transport.ts';
import { parsePublicKey, type TrustedKey } from './keys.ts';
import { pushBlob, pushManifest } from './push.ts';
import { pushBundleReferrer } from './sign-bundle.ts';
import { makeBundle, makeStatement } from './sigstore-bundle.ts';
import { signatureReference, signatureTag } from './signatures.ts';
import { makePayload, SIGNATURE_ANNOTATION, signPayload, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';

export interface SigningKey {
  file: string;
  privateKey: KeyObject;
  hash: TrustedKey['hash'];
}

/** An unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1) of a kind policies can verify. */
export function loadSigningKey(file: string): SigningKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new OcinitError(`cannot read key ${file}: ${(error as Error).message}`);
  }
  if (text.includes('ENCRYPTED')) {
    throw new OcinitError(`key ${file} is encrypted`, { hint: 'give an unencrypted PEM private key, e.g. openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem' });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch (error) {
    throw new OcinitError(`key ${file} is not a PEM private key (${(error as Error).message})`, { hint: 'make one with openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem' });
  }
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const trusted = parsePublicKey(Buffer.from(publicPem), file);
  if (typeof trusted === 'string') throw new OcinitError(`key ${file}: ${trusted}`);
  return { file, privateKey, hash: trusted.hash };
}

/** The identity a signature claims: the reference with its tag (as podman and skopeo sign), or the repository alone when pinned by digest. */
export function signedIdentityOf(reference: ImageReference): string {
  const name = `${reference.registry}/${reference.repository}`;
  return reference.tag === undefined ? name : `${name}:${reference.tag}`;
}

/** The simple-signing layers of the signature image already at the tag (none when the tag is absent). */
async function existingSignatures(source: Source, tag: string, image: string): Promise<Descriptor[]> {
  try {
    const { document } = await fetchManifest(source, tag, undefined, image);
    if (document.kind !== 'manifest') throw new OcinitError(`${image} is an index, not a cosign signature image; refusing to replace it`, { image });
    return document.layers.filter((layer) => layer.mediaType === SIMPLE_SIGNING_TYPE);
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) return [];
    throw error;
  }
}

/** cosign's `.sig` image of simple-signing payloads, or cosign v3's Sigstore bundle referrer. */
export type SignatureFormat = 'simple-signing' | 'bundle';

export interface SignResult {
  /** The digest signed: what the reference resolved to (an index's digest for a multi-arch tag). */
  digest: string;
  identity: string;
  /** Where the signature is: `registry/repository:sha256-HEX.sig`, or the bundle referrer's `registry/repository@DIGEST`. */
  location: string;
  signatures: number;
}

/**
 * Signs what `referenceText` resolves to at its registry (never a mirror) and pushes the signature
 * image, keeping the signatures already there.
 */
export async function signImage(referenceText: string, key: SigningKey, options: PullOptions, format: SignatureFormat = 'simple-signing'): Promise<SignResult> {
  const reference = parseReference(referenceText);
  const { mirrors: _mirrors, verifier: _verifier, ...direct } = options;
  return withSources(reference, direct, async (sources) => {
    const source = sources[sources.length - 1];
    if (source === undefined) throw new OcinitError(`no registry for ${reference.canonical}`);
    const { digest, document, bytes } = await fetchManifest(source, manifestReference(reference), reference.digest === undefined ? undefined : { digest: reference.digest }, reference.canonical);
    const identity = signedIdentityOf(reference);
    if (format === 'bundle') {
      const bundle = makeBundle(key.privateKey, key.hash, makeStatement(digest, identity));
      const pushed = await pushBundleReferrer(source, { mediaType: document.mediaType, digest, size: bytes.length }, bundle, reference.canonical);
      const location = `${reference.registry}/${reference.repository}@${pushed.digest}`;
      options.log?.info(`${reference.canonical}: signed ${digest} as ${identity} with ${key.file}; Sigstore bundle referrer ${location} (listed by the ${pushed.listed})`);
      return { digest, identity, location, signatures: 1 };
    }
    const tag = signatureTag(digest);
    const location = signatureReference(reference, digest);
    const scope = `repository:${source.repository}:pull,push`;
    const what = `pushing the signature ${location}`;
    const payload = makePayload(identity, digest);
    const signature = signPayload(key.privateKey, key.hash, payload);
    const layers = (await existingSignatures(source, tag, location)).filter((layer) => layer.annotations?.[SIGNATURE_ANNOTATION] !== signature);
    const pushed = await pushBlob(source, payload, scope, what);
    layers.push({ mediaType: SIMPLE_SIGNING_TYPE, digest: pushed.digest, size: pushed.size, annotations: { [SIGNATURE_ANNOTATION]: signature } });
    const config = Buffer.from(JSON.stringify({ architecture: '', config: {}, created: '0001-01-01T00:00:00Z', history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })), os: '', rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.digest) } }));
    const configDescriptor = await pushBlob(source, config, scope, what);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...configDescriptor, mediaType: OCI_CONFIG }, layers }));
    await pushManifest(source, tag, manifest, OCI_MANIFEST, scope, what, location);
    options.log?.info(`${reference.canonical}: signed ${digest} as ${identity} with ${key.file}; ${location} holds ${layers.length} signature(s)`);
    return { digest, identity, location, signatures: layers.length };
  });
}
