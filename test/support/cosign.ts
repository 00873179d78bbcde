// An independent minimal cosign signer for the tests: the payload written out by hand, signed by
// openssl (not node:crypto), pushed as cosign lays it out (a `sha256-HEX.sig` tag whose layers are
// simple-signing payloads carrying the signature in an annotation).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { putManifest, uploadBlob, type ApiTarget } from './distribution.ts';
import { sha256 } from './image.ts';

export interface TestKey {
  /** PEM files on disk: the private key (PKCS#8) and the public key (SPKI). */
  privateFile: string;
  publicFile: string;
}

/** A fresh key made by openssl: `ec` is P-256 (cosign's own kind), also `rsa` and `ed25519`. */
export function makeKey(dir: string, name: string, kind: 'ec' | 'rsa' | 'ed25519' = 'ec'): TestKey {
  const privateFile = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  const args = kind === 'ec' ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] : kind === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'ED25519'];
  execFileSync('openssl', ['genpkey', ...args, '-out', privateFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('openssl', ['pkey', '-in', privateFile, '-pubout', '-out', publicFile]);
  return { privateFile, publicFile };
}

/** The simple-signing payload, spelled out as cosign writes it. */
export function payloadText(dockerReference: string, digest: string): string {
  return `{"critical":{"identity":{"docker-reference":"${dockerReference}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`;
}

/** The base64 signature of `payload` by openssl: SHA-256 for EC/RSA, raw for Ed25519. */
export function opensslSign(key: TestKey, payload: Buffer, dir: string): string {
  const file = join(dir, `payload-${sha256(payload).slice(7, 19)}`);
  writeFileSync(file, payload);
  const ed25519 = execFileSync('openssl', ['pkey', '-in', key.privateFile, '-noout', '-text']).toString().startsWith('ED25519');
  const signature = ed25519
    ? execFileSync('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', key.privateFile, '-in', file])
    : execFileSync('openssl', ['dgst', '-sha256', '-sign', key.privateFile, file]);
  return signature.toString('base64');
}

export interface SignatureLayer {
  payload: Buffer;
  signature: string;
}

/** Pushes the signature image of `digest` in repository `name` holding `layers` (replacing any). */
export async function pushSignatureImage(target: ApiTarget, name: string, digest: string, layers: SignatureLayer[]): Promise<void> {
  const descriptors = [];
  for (const layer of layers) {
    const layerDigest = await uploadBlob(target, name, layer.payload);
    descriptors.push({ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: layerDigest, size: layer.payload.length, annotations: { 'dev.cosignproject.cosign/signature': layer.signature } });
  }
  const config = Buffer.from(JSON.stringify({ architecture: '', config: {}, created: '0001-01-01T00:00:00Z', os: '', rootfs: { type: 'layers', diff_ids: descriptors.map((descriptor) => descriptor.digest) } }));
  const configDigest = await uploadBlob(target, name, config);
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: descriptors };
  const status = await putManifest(target, name, `sha256-${digest.slice('sha256:'.length)}.sig`, manifest);
  if (status !== 201) throw new Error(`signature push to ${name} failed: ${status}`);
}

/** Signs `digest` of `name` for `dockerReference` with openssl and pushes it as cosign would. */
export async function cosignSign(target: ApiTarget, name: string, digest: string, dockerReference: string, key: TestKey, dir: string): Promise<SignatureLayer> {
  const payload = Buffer.from(payloadText(dockerReference, digest));
  const layer = { payload, signature: opensslSign(key, payload, dir) };
  await pushSignatureImage(target, name, digest, [layer]);
  return layer;
}
