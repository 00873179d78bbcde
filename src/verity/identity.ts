// What makes a verity image a pure function of its OCI image: the salt and the UUIDs come from the
// manifest digest, so the host (`ocinit verity`) and every DUT compute the same root hash.
import { createHash } from 'node:crypto';
import { parseDigest } from '../digest/digest.ts';

/** The salt is the manifest digest's own bytes (32 for sha256, 64 for sha512). */
export function veritySalt(manifestDigest: string): Buffer {
  return Buffer.from(parseDigest(manifestDigest).hex, 'hex');
}

/** A name-based UUID (RFC 9562 version 8) for the EROFS superblock and the verity superblock. */
export function imageUuid(manifestDigest: string): Buffer {
  const bytes = createHash('sha256').update(`ocinit erofs image ${parseDigest(manifestDigest).algorithm}:${parseDigest(manifestDigest).hex}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return Buffer.from(bytes);
}

export function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
