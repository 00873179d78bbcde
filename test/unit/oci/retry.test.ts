import { describe, expect, it } from 'vitest';
import { TeeReplay } from '../../../src/oci/download.ts';
import { DigestVerifier, parseDigest } from '../../../src/digest/digest.ts';
import { DigestMismatchError } from '../../../src/digest/mismatch.ts';
import { backoffMs, parseRegistryErrors, RegistryError, RegistryUnreachableError, retryAfterMs } from '../../../src/oci/transport.ts';

describe('backoffMs', () => {
  it('doubles from the first delay, drawn from the upper half, capped at 10 s', () => {
    expect([1, 2, 3, 4].map((number) => backoffMs(number, 250, undefined, () => 0))).toEqual([125, 250, 500, 1000]);
    expect([1, 2, 3, 4].map((number) => backoffMs(number, 250, undefined, () => 0.999999))).toEqual([250, 500, 1000, 2000]);
    expect(backoffMs(20, 250, undefined, () => 0.5)).toBe(7500);
  });

  it('spreads clients that failed at the same moment', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const waits = new Set(Array.from({ length: 32 }, () => backoffMs(3, 250, undefined, random)));
    expect(waits.size).toBeGreaterThan(16);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(500);
  });

  it('honours Retry-After as a floor, with up to a quarter more', () => {
    expect(backoffMs(1, 250, 2000, () => 0)).toBe(2000);
    expect(backoffMs(1, 250, 2000, () => 0.999999)).toBe(2500);
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('Wed, 02 Dec 2026 21:00:10 GMT', Date.parse('Wed, 02 Dec 2026 21:00:00 GMT'))).toBe(10_000);
    expect(retryAfterMs('3600')).toBe(60_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});

describe('registry errors as data', () => {
  it("reads the registry's error codes from its error body", () => {
    expect(parseRegistryErrors('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}},{"code":"DENIED"},{"message":"no code"}]}')).toEqual([
      { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' },
      { code: 'DENIED', message: '' },
    ]);
    expect(parseRegistryErrors('<html>bad gateway</html>')).toEqual([]);
    expect(parseRegistryErrors('{"errors":"nope"}')).toEqual([]);
  });

  it('carries the status and the codes; an outage is a RegistryError too', () => {
    const error = new RegistryUnreachableError('registry x answered HTTP 429', { status: 429, errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] });
    expect(error).toBeInstanceOf(RegistryError);
    expect([error.status, error.codes]).toEqual([429, ['TOOMANYREQUESTS']]);
    expect(new RegistryError('no answer').status).toBeUndefined();
  });
});

describe('TeeReplay (a blob restarted from byte 0 while it is being unpacked)', () => {
  const bytes = Buffer.from('0123456789abcdefghij');
  const digest = `sha256:${'0'.repeat(64)}`;
  const prefixDigest = (prefix: Buffer): string => {
    const verifier = new DigestVerifier(parseDigest(digest));
    verifier.update(prefix);
    return verifier.actual();
  };

  function teeInto(received: Buffer[]): { push(chunk: Buffer): Promise<void>; end(): void } {
    return { push: async (chunk) => void received.push(Buffer.from(chunk)), end: () => undefined };
  }

  it('gives the unpacker each byte once, across restarts in the middle of the replay', async () => {
    const received: Buffer[] = [];
    const replay = new TeeReplay(teeInto(received), { mediaType: 'x', digest, size: bytes.length }, 'img');
    await replay.push(bytes.subarray(0, 8), 0);
    replay.restarted({ size: 8, digest: prefixDigest(bytes.subarray(0, 8)) });
    await replay.push(bytes.subarray(0, 5), 0);
    // Broken again at byte 5, and again answered from byte 0.
    replay.restarted({ size: 5, digest: prefixDigest(bytes.subarray(0, 5)) });
    await replay.push(bytes.subarray(0, 12), 0);
    await replay.push(bytes.subarray(12), 12);
    expect(Buffer.concat(received).toString()).toBe(bytes.toString());
  });

  it('refuses a restarted blob whose first bytes differ from those already unpacked', async () => {
    const replay = new TeeReplay(teeInto([]), { mediaType: 'x', digest, size: bytes.length }, 'img');
    await replay.push(bytes.subarray(0, 8), 0);
    replay.restarted({ size: 8, digest: prefixDigest(bytes.subarray(0, 8)) });
    await expect(replay.push(Buffer.from('0123X567ab'), 0)).rejects.toThrow(DigestMismatchError);
  });
});
