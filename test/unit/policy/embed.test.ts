import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { embedPolicy } from '../../../src/policy/embed.ts';

const pem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('the policy built into the initramfs', () => {
  it('copies each key once and rewrites every path to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocinit-embed-'));
    mkdirSync(join(dir, 'keys'));
    writeFileSync(join(dir, 'keys', 'ci.pub'), pem());
    writeFileSync(join(dir, 'release.pub'), pem());
    const document = {
      default: [{ type: 'sigstoreSigned', keyPath: 'keys/ci.pub' }],
      transports: {
        docker: {
          'registry.lab/release': [{ type: 'sigstoreSigned', keyPaths: [join(dir, 'release.pub'), 'keys/ci.pub'], signedIdentity: { type: 'matchRepository' } }],
          'registry.lab/public': [{ type: 'insecureAcceptAnything' }],
        },
      },
    };
    const embedded = embedPolicy(JSON.stringify(document), join(dir, 'policy.json'));
    expect(embedded.keys).toEqual([
      { source: join(dir, 'keys', 'ci.pub'), path: '/etc/ocinit/keys/1-ci.pub' },
      { source: join(dir, 'release.pub'), path: '/etc/ocinit/keys/2-release.pub' },
    ]);
    expect(JSON.parse(embedded.text)).toEqual({
      default: [{ type: 'sigstoreSigned', keyPath: '/etc/ocinit/keys/1-ci.pub' }],
      transports: {
        docker: {
          'registry.lab/release': [{ type: 'sigstoreSigned', keyPaths: ['/etc/ocinit/keys/2-release.pub', '/etc/ocinit/keys/1-ci.pub'], signedIdentity: { type: 'matchRepository' } }],
          'registry.lab/public': [{ type: 'insecureAcceptAnything' }],
        },
      },
    });
  });

  it('fails on a missing key, naming the field, and on anything the boot would refuse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocinit-embed-'));
    expect(() => embedPolicy(JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { 'registry.lab/ci': [{ type: 'sigstoreSigned', keyPath: 'gone.pub' }] } } }), join(dir, 'p.json'))).toThrow(
      /transports.docker\["registry.lab\/ci"\]\[0\].keyPath: cannot read key .*gone.pub/,
    );
    expect(() => embedPolicy(JSON.stringify({ default: [{ type: 'signedBy' }] }), join(dir, 'p.json'))).toThrow(/signedBy/);
  });
});
