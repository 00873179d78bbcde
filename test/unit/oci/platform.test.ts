import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../../../src/oci/manifest.ts';
import { formatPlatform, normalizePlatform, parsePlatform, selectPlatform } from '../../../src/oci/platform.ts';

const entry = (digit: string, platform?: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${digit.repeat(64)}`,
  size: 100,
  ...(platform === undefined ? {} : { platform }),
  ...(annotations === undefined ? {} : { annotations }),
});

describe('platforms', () => {
  it('normalises architecture names and default variants', () => {
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64' })).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(normalizePlatform({ os: 'linux', architecture: 'x86_64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(normalizePlatform({ os: 'linux', architecture: 'arm', variant: '7' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(normalizePlatform({ os: 'linux', architecture: 'armhf' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(formatPlatform(parsePlatform('linux/arm64'))).toBe('linux/arm64/v8');
    expect(() => parsePlatform('linux')).toThrow('invalid platform');
    expect(() => parsePlatform('linux/arm/')).toThrow('invalid platform');
  });

  it('selects by os, architecture and variant, skipping attestations', () => {
    const entries = [
      entry('0', { os: 'unknown', architecture: 'unknown' }),
      entry('1', { os: 'linux', architecture: 'amd64' }),
      entry('2', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      entry('3', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      entry('4', { os: 'linux', architecture: 'arm', variant: 'v7' }),
      entry('5', { os: 'linux', architecture: 'amd64' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
    ];
    expect(selectPlatform(entries, { os: 'linux', architecture: 'x86_64' })?.digest).toBe(entries[1]?.digest);
    expect(selectPlatform(entries, { os: 'linux', architecture: 'aarch64' })?.digest).toBe(entries[2]?.digest);
    expect(selectPlatform(entries, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest).toBe(entries[4]?.digest);
    expect(selectPlatform(entries, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest).toBe(entries[3]?.digest);
    expect(selectPlatform(entries, { os: 'linux', architecture: 's390x' })).toBeUndefined();
    expect(selectPlatform(entries, { os: 'windows', architecture: 'amd64' })).toBeUndefined();
    expect(selectPlatform([entry('0', { os: 'unknown', architecture: 'unknown' })], { os: 'unknown', architecture: 'unknown' })).toBeUndefined();
  });

  it('uses an entry without platform only when it is the sole image', () => {
    expect(selectPlatform([entry('1')], { os: 'linux', architecture: 'amd64' })?.digest).toBe(entry('1').digest);
    expect(selectPlatform([entry('1'), entry('2', { os: 'linux', architecture: 'arm64' })], { os: 'linux', architecture: 'amd64' })).toBeUndefined();
  });
});
