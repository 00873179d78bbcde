import { OcinitError } from '../log/errors.ts';

/** Thrown when bytes do not match their descriptor; names the blob, the expected and actual values. */
export class DigestMismatchError extends OcinitError {
  override readonly code: string = 'OCINIT_DIGEST_MISMATCH';
}

export function mismatch(digest: string, what: string, expected: string, actual: string, image?: string): DigestMismatchError {
  return new DigestMismatchError(`${what} ${digest} failed verification: expected ${expected}, got ${actual}`, {
    blob: digest,
    image,
    hint: 'the registry, a mirror, a proxy or the cache served wrong bytes; nothing from this blob was used',
  });
}
