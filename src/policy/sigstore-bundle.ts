// Sigstore bundles (`application/vnd.dev.sigstore.bundle.v0.3+json`) as cosign v3 attaches them to
// an image: a DSSE envelope whose payload is an in-toto statement of predicate type
// `https://sigstore.dev/cosign/sign/v1` naming the image's digest as its subject. Key-based only:
// the signature is checked over the DSSE pre-authentication encoding with the policy's keys;
// certificates, transparency-log entries and timestamps are not verified (see docs/security.md).
// Pure.
import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { parseDigest } from '../digest/digest-text.ts';
import type { TrustedKey } from './keys.ts';
import { signatureValid } from './simple-signing.ts';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
/** Key-based bundles are a few KiB; keyless ones with a chain and a log entry stay far below this. */
export const MAX_BUNDLE_BYTES = 256 * 1024;
const MAX_SUBJECTS = 64;

/** One subject of a signed statement: a digest, and the reference it was signed as, if it names one. */
export interface SignedSubject {
  digest: string;
  identity: string | undefined;
}

/** What a verified bundle says, once its signature verified with `key`. */
export interface OpenedBundle {
  key: TrustedKey;
  subjects: SignedSubject[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** DSSE's pre-authentication encoding: what the envelope's signature covers. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

interface Envelope {
  payload: Buffer;
  payloadType: string;
  signature: string;
}

/** The DSSE envelope of a bundle, or why the bundle is not one ocinit reads. */
function envelopeOf(bytes: Buffer): { envelope: Envelope; keyless: boolean } | string {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'is not JSON';
  }
  if (!isObject(value)) return 'is not a JSON object';
  if (value.mediaType !== BUNDLE_MEDIA_TYPE) return `has mediaType ${JSON.stringify(value.mediaType)}, not ${BUNDLE_MEDIA_TYPE}`;
  const material = value.verificationMaterial;
  if (!isObject(material)) return 'has no verificationMaterial';
  const keyless = material.certificate !== undefined || material.x509CertificateChain !== undefined;
  if (value.messageSignature !== undefined) return "holds a messageSignature (cosign sign-blob's form, a blob's digest), not a DSSE statement about an image";
  const dsse = value.dsseEnvelope;
  if (!isObject(dsse)) return 'has no dsseEnvelope';
  const { payload, payloadType, signatures } = dsse;
  if (typeof payload !== 'string' || !BASE64.test(payload)) return 'has a DSSE payload that is not base64';
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return `has DSSE payloadType ${JSON.stringify(payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`;
  // protobuf-specs: a bundle's envelope carries exactly one signature.
  if (!Array.isArray(signatures) || signatures.length !== 1) return 'must carry exactly one DSSE signature';
  const [first] = signatures;
  if (!isObject(first) || typeof first.sig !== 'string' || first.sig === '') return 'has a DSSE signature without sig';
  return { envelope: { payload: Buffer.from(payload, 'base64'), payloadType, signature: first.sig }, keyless };
}

/** The subjects of a cosign image-signature statement, or why it is not one. */
function subjectsOf(payload: Buffer): SignedSubject[] | string {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'signs a payload that is not JSON';
  }
  if (!isObject(value)) return 'signs a payload that is not an in-toto statement';
  // v0.1 (older cosign attest) has the same subject; cosign v3 writes v1.
  if (value._type !== IN_TOTO_STATEMENT_TYPE && value._type !== 'https://in-toto.io/Statement/v0.1') return `signs a statement of _type ${JSON.stringify(value._type)}, not ${IN_TOTO_STATEMENT_TYPE}`;
  if (value.predicateType !== COSIGN_SIGN_PREDICATE) return `signs a statement of predicateType ${JSON.stringify(value.predicateType)} (an attestation), not ${COSIGN_SIGN_PREDICATE} (an image signature)`;
  const { subject } = value;
  if (!Array.isArray(subject) || subject.length === 0 || subject.length > MAX_SUBJECTS) return `signs a statement without 1 to ${MAX_SUBJECTS} subjects`;
  const subjects: SignedSubject[] = [];
  for (const entry of subject) {
    if (!isObject(entry) || !isObject(entry.digest)) return 'signs a statement with a subject without digest';
    if (entry.name !== undefined && typeof entry.name !== 'string') return 'signs a statement with a subject whose name is not a string';
    const identity = entry.name === undefined || entry.name === '' ? undefined : entry.name;
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const hex = entry.digest[algorithm];
      if (typeof hex === 'string') subjects.push({ digest: `${algorithm}:${hex.toLowerCase()}`, identity });
    }
  }
  return subjects;
}

/**
 * The bundle's subjects when one of `keys` made its signature, else why not. The signature is
 * checked before anything of the statement is believed.
 */
export function openBundle(bytes: Buffer, keys: readonly TrustedKey[]): OpenedBundle | string {
  const parsed = envelopeOf(bytes);
  if (typeof parsed === 'string') return parsed;
  const { envelope, keyless } = parsed;
  const signed = preAuthEncoding(envelope.payloadType, envelope.payload);
  const key = keys.find((trusted) => signatureValid(trusted, signed, envelope.signature));
  if (key === undefined) {
    const who = keys.map((trusted) => trusted.label).join(' or ');
    if (keyless) return `is not signed by ${who}: it is a keyless bundle (Fulcio certificate), which ocinit does not verify yet`;
    return `is not signed by ${who} (another key, or a tampered statement)`;
  }
  const subjects = subjectsOf(envelope.payload);
  if (typeof subjects === 'string') return subjects;
  return { key, subjects };
}

/** cosign v3's image-signature statement for `digest`, naming `identity` (which cosign leaves out). */
export function makeStatement(digest: string, identity: string): Buffer {
  const { algorithm, hex } = parseDigest(digest);
  return Buffer.from(JSON.stringify({ _type: IN_TOTO_STATEMENT_TYPE, subject: [{ name: identity, digest: { [algorithm]: hex } }], predicateType: COSIGN_SIGN_PREDICATE, predicate: {} }));
}

/** A key-based bundle of `statement` signed with `privateKey`, as sigstore-go lays it out. */
export function makeBundle(privateKey: KeyObject, hash: TrustedKey['hash'], statement: Buffer): Buffer {
  const signature = cryptoSign(hash, preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, statement), privateKey).toString('base64');
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const hint = createHash('sha256').update(spki).digest('base64');
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint } },
      dsseEnvelope: { payload: statement.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: signature, keyid: '' }] },
    }),
  );
}
