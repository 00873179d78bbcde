// Digest strings: parsed and validated without hashing anything, so that command-line checks
// (references with @sha256:...) do not load node:crypto into the launcher's first moments.
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
