import { createHash, type Hash } from 'node:crypto';
import type { Digest } from './digest-text.ts';

export { isDigest, parseDigest, type Digest } from './digest-text.ts';

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

  /** The digest of everything seen so far, leaving the hash running. */
  peek(): string {
    return `${this.expected.algorithm}:${this.#hash.copy().digest('hex')}`;
  }

  /** The digest of everything seen so far (consumes the hash: call once). */
  actual(): string {
    return `${this.expected.algorithm}:${this.#hash.digest('hex')}`;
  }
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
