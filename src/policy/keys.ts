// Public keys for sigstoreSigned requirements, as node:crypto objects, with the hash cosign uses
// for each kind of key.
import { createPublicKey, type KeyObject } from 'node:crypto';

export interface TrustedKey {
  /** The key file, or the policy field that held its data, for messages. */
  label: string;
  key: KeyObject;
  /** The digest signed with the key: cosign hashes P-256 and RSA with SHA-256; Ed25519 signs the bytes. */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
}

const EC_HASHES: Record<string, 'sha256' | 'sha384' | 'sha512'> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

/** The key in a PEM file, or the reason it cannot be used. */
export function parsePublicKey(pem: Buffer, label: string): TrustedKey | string {
  const text = pem.toString('utf8');
  if (text.includes('PRIVATE KEY')) return 'this is a private key: give the public key (cosign.pub, or openssl pkey -pubout)';
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (error) {
    return `not a PEM public key (${(error as Error).message})`;
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { label, key, hash: 'sha256' };
    case 'ed25519':
      return { label, key, hash: null };
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const hash = EC_HASHES[curve];
      return hash === undefined ? `EC curve ${curve} is not supported (P-256, P-384, P-521)` : { label, key, hash };
    }
    default:
      return `${key.asymmetricKeyType ?? 'unknown'} keys are not supported (ECDSA P-256, RSA, Ed25519)`;
  }
}
