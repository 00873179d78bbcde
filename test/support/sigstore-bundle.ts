// An independent minimal writer of cosign v3's key-based Sigstore bundles for the tests: the in-toto
// statement and the bundle spelled out by hand, the DSSE pre-authentication encoding signed by
// openssl (not node:crypto), pushed as an OCI 1.1 referrer in the referrers tag schema layout
// (cosign's BUNDLE_SPEC.md) that Debian's docker-registry 2.8, which has no referrers API, needs.
import { opensslSign, type TestKey } from './cosign.ts';
import { putManifest, uploadBlob, type ApiTarget } from './distribution.ts';
import { sha256 } from './image.ts';

export const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const EMPTY_CONFIG = Buffer.from('{}');

/** cosign v3's statement: the digest alone (no name), unless `name` is given. */
export function statementText(digest: string, name?: string, predicateType = 'https://sigstore.dev/cosign/sign/v1'): string {
  const hex = digest.slice('sha256:'.length);
  const nameField = name === undefined ? '' : `"name":"${name}",`;
  return `{"_type":"https://in-toto.io/Statement/v1","subject":[{${nameField}"digest":{"sha256":"${hex}"}}],"predicateType":"${predicateType}","predicate":{}}`;
}

/** DSSEv1 PAE, written out: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
function pae(payloadType: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${body.length} `), body]);
}

/** A bundle whose envelope carries `statement`, signed by `key` over the PAE of `signed` (default: the statement). */
export function bundleText(statement: string, key: TestKey, dir: string, signed: string = statement): string {
  const type = 'application/vnd.in-toto+json';
  const sig = opensslSign(key, pae(type, Buffer.from(signed)), dir);
  const payload = Buffer.from(statement).toString('base64');
  return `{"mediaType":"${BUNDLE_TYPE}","verificationMaterial":{"publicKey":{"hint":""}},"dsseEnvelope":{"payload":"${payload}","payloadType":"${type}","signatures":[{"sig":"${sig}","keyid":""}]}}`;
}

/**
 * Pushes `bundle` as a referrer of `subjectDigest` (the referrer manifest's subject) and lists it
 * in the referrers tag of `listedUnder` (default: the subject), replacing that tag's index.
 */
export async function pushBundleReferrer(target: ApiTarget, name: string, subjectDigest: string, subjectSize: number, bundle: string, listedUnder: string = subjectDigest): Promise<string> {
  const bytes = Buffer.from(bundle);
  const bundleDigest = await uploadBlob(target, name, bytes);
  const configDigest = await uploadBlob(target, name, EMPTY_CONFIG);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: BUNDLE_TYPE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: EMPTY_CONFIG.length },
    layers: [{ mediaType: BUNDLE_TYPE, digest: bundleDigest, size: bytes.length }],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: subjectDigest, size: subjectSize },
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = sha256(manifestBytes);
  const status = await putManifest(target, name, manifestDigest, manifest);
  if (status !== 201) throw new Error(`referrer manifest push to ${name} failed: ${status}`);
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: manifest.mediaType, digest: manifestDigest, size: manifestBytes.length, artifactType: BUNDLE_TYPE, annotations: manifest.annotations }],
  };
  const tagged = await putManifest(target, name, `sha256-${listedUnder.slice('sha256:'.length)}`, index);
  if (tagged !== 201) throw new Error(`referrers tag push to ${name} failed: ${tagged}`);
  return manifestDigest;
}
