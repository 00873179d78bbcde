// cosign's simple-signing payload (`application/vnd.dev.cosign.simplesigning.v1+json`): what a
// signature claims, and the check of the signature over the payload's exact bytes. Pure.
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { isDigest } from '../digest/digest-text.ts';
import type { TrustedKey } from './keys.ts';

export const SIMPLE_SIGNING_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const PAYLOAD_TYPE = 'cosign container image signature';
/** Payloads are a few hundred bytes; anything far larger is not one. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** What a payload claims, once parsed: nothing in it is trusted before its signature verified. */
export interface SignedClaims {
  dockerReference: string;
  manifestDigest: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function exactKeys(value: Json, keys: readonly string[]): boolean {
  const present = Object.keys(value);
  return present.length === keys.length && keys.every((key) => present.includes(key));
}

/**
 * The claims of a payload, or why it is not a cosign container image signature. As containers/image
 * does, `critical` must hold exactly `type`, `image.docker-manifest-digest` and `identity.docker-reference`.
 */
export function parsePayload(bytes: Buffer): SignedClaims | string {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'the payload is not JSON';
  }
  if (!isObject(value) || !isObject(value.critical)) return 'the payload has no "critical" object';
  for (const key of Object.keys(value)) if (key !== 'critical' && key !== 'optional') return `the payload has an unknown field "${key}"`;
  const { critical } = value;
  if (!exactKeys(critical, ['type', 'image', 'identity'])) return 'critical must hold exactly type, image and identity';
  if (critical.type !== PAYLOAD_TYPE) return `critical.type is ${JSON.stringify(critical.type)}, not "${PAYLOAD_TYPE}"`;
  const { image, identity } = critical;
  if (!isObject(image) || !exactKeys(image, ['docker-manifest-digest']) || typeof image['docker-manifest-digest'] !== 'string') return 'critical.image must hold exactly docker-manifest-digest';
  if (!isObject(identity) || !exactKeys(identity, ['docker-reference']) || typeof identity['docker-reference'] !== 'string') return 'critical.identity must hold exactly docker-reference';
  const manifestDigest = image['docker-manifest-digest'];
  if (!isDigest(manifestDigest)) return `critical.image.docker-manifest-digest '${manifestDigest.slice(0, 80)}' is not a digest`;
  return { dockerReference: identity['docker-reference'], manifestDigest };
}

/** The payload ocinit signs, byte for byte the form cosign writes. */
export function makePayload(dockerReference: string, manifestDigest: string): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': manifestDigest }, type: PAYLOAD_TYPE }, optional: null }));
}

/** Whether `signature` (base64, as in the layer annotation) is the key's signature over `payload`. */
export function signatureValid(key: TrustedKey, payload: Buffer, signature: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  try {
    return cryptoVerify(key.hash, payload, key.key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** The base64 signature over `payload`, as cosign makes it for the key's kind (see TrustedKey.hash). */
export function signPayload(privateKey: KeyObject, hash: TrustedKey['hash'], payload: Buffer): string {
  return cryptoSign(hash, payload, privateKey).toString('base64');
}
