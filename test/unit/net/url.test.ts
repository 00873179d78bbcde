import { describe, expect, it } from 'vitest';
import { displayUrl } from '../../../src/net/url.ts';
import { ntpHost } from '../../../src/net/ntp.ts';

describe('displayUrl', () => {
  it('drops credentials and query strings', () => {
    expect(displayUrl('https://ci:s3cr3t@farm.example:8443/jobs/42/args?token=abc')).toBe('https://farm.example:8443/jobs/42/args?…');
    expect(displayUrl('http://10.0.0.1/args.txt')).toBe('http://10.0.0.1/args.txt');
  });

  it('scrubs text that is not even a URL', () => {
    expect(displayUrl('//user:pw@host/x?k=v')).toBe('//host/x?…');
  });
});

describe('ntpHost', () => {
  it('maps b2c.ntp_peer to a server', () => {
    expect(ntpHost({ kind: 'none' })).toBeUndefined();
    expect(ntpHost({ kind: 'auto' })).toBe('pool.ntp.org');
    expect(ntpHost({ kind: 'host', host: '10.42.0.1' })).toBe('10.42.0.1');
  });
});
