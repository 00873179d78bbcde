import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { credentialsFromAuthFile, parseChallenges, parseCredentials } from '../../../src/oci/auth.ts';
import { retryAfterMs } from '../../../src/oci/transport.ts';

describe('WWW-Authenticate', () => {
  it('parses a bearer challenge with several scopes and quoted commas', () => {
    expect(parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push repository:c:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push repository:c:pull' } },
    ]);
  });
  it('parses basic, unquoted values, escapes and several challenges', () => {
    expect(parseChallenges('Basic realm="x\\"y", Bearer realm=https://t/token,service=s')).toEqual([
      { scheme: 'basic', params: { realm: 'x"y' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('credentials', () => {
  it('keeps the password out of every printed form', () => {
    const credentials = parseCredentials('bob:s3cr3t:with:colons');
    expect(credentials.username).toBe('bob');
    expect(credentials.password.reveal()).toBe('s3cr3t:with:colons');
    expect(`${String(credentials.password)} ${JSON.stringify(credentials)} ${inspect(credentials)}`).not.toContain('s3cr3t');
    expect(() => parseCredentials('nocolon')).toThrow('USERNAME:PASSWORD');
  });

  it('finds the most specific auth.json entry, Docker Hub aliases included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocinit-auth-'));
    const file = join(dir, 'auth.json');
    const auth = (text: string): { auth: string } => ({ auth: Buffer.from(text).toString('base64') });
    writeFileSync(file, JSON.stringify({ auths: { 'reg.io': auth('a:1111'), 'reg.io/team': auth('b:2222'), 'https://index.docker.io/v1/': auth('c:3333') } }));
    expect((await credentialsFromAuthFile(file, 'reg.io', 'team/app'))?.username).toBe('b');
    expect((await credentialsFromAuthFile(file, 'reg.io', 'other/app'))?.password.reveal()).toBe('1111');
    expect((await credentialsFromAuthFile(file, 'docker.io', 'library/alpine'))?.username).toBe('c');
    expect(await credentialsFromAuthFile(file, 'other.io', 'x')).toBeUndefined();
    await expect(credentialsFromAuthFile(join(dir, 'missing.json'), 'reg.io', 'x')).rejects.toThrow('cannot read auth file');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, capped', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5_000);
    expect(retryAfterMs('100000')).toBe(60_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});
