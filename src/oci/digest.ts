import { createHash, type Hash } from 'node:crypto';
import { OcinitError } from '../log/errors.ts';

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

/** A validated `algorithm:hex` digest, safe to put in a URL or a file name. */
export interface Digest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
  text: string;
}

export function isDigest(text: string): boolean {
  return tryParseDigest(text) !== undefined;
}

function tryParseDigest(text: string): Digest | undefined {
  const match = /^(sha256|sha512):([a-f0-9]+)$/.exec(text);
  if (match === null) return undefined;
  const algorithm = match[1] as 'sha256' | 'sha512';
  const hex = match[2] ?? '';
  if (hex.length !== HEX_LENGTH[algorithm]) return undefined;
  return { algorithm, hex, text };
}

/** Validates a digest string before it reaches any URL or path; throws an OcinitError naming it. */
export function parseDigest(text: string, what = 'digest'): Digest {
  const digest = tryParseDigest(text);
  if (digest === undefined) {
    throw new OcinitError(`invalid ${what} '${text.slice(0, 200)}': expected sha256:<64 hex> or sha512:<128 hex>`);
  }
  return digest;
}

/** Hashes bytes as they stream past, with the same algorithm as an expected digest. */
export class DigestVerifier {
  readonly expected: Digest;
  #hash: Hash;
  #size = 0;

  constructor(expected: Digest) {
    this.expected = expected;
    this.#hash = createHash(expected.algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
  }

  get size(): number {
    return this.#size;
  }

  /** The digest of everything seen so far (consumes the hash: call once). */
  actual(): string {
    return `${this.expected.algorithm}:${this.#hash.digest('hex')}`;
  }
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
