import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePublicKey, type TrustedKey } from '../../../src/policy/keys.ts';
import { BUNDLE_MEDIA_TYPE, makeBundle, makeStatement, openBundle, preAuthEncoding } from '../../../src/policy/sigstore-bundle.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function pair(): { privateKey: ReturnType<typeof generateKeyPairSync>['privateKey']; trusted: TrustedKey } {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const trusted = parsePublicKey(Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' }).toString()), 'ci.pub');
  if (typeof trusted === 'string') throw new Error(trusted);
  return { privateKey: keys.privateKey, trusted };
}

const ci = pair();
const signed = (): Record<string, unknown> => JSON.parse(makeBundle(ci.privateKey, ci.trusted.hash, makeStatement(DIGEST, 'registry.lab/ci/app:1')).toString()) as Record<string, unknown>;
const open = (bundle: unknown): ReturnType<typeof openBundle> => openBundle(Buffer.from(JSON.stringify(bundle)), [ci.trusted]);

describe('Sigstore bundles', () => {
  it("encodes DSSE's PAE as the specification's example does", () => {
    expect(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('opens a bundle signed by a trusted key into its subjects', () => {
    expect(open(signed())).toEqual({ key: ci.trusted, subjects: [{ digest: DIGEST, identity: 'registry.lab/ci/app:1' }] });
    expect(openBundle(makeBundle(ci.privateKey, ci.trusted.hash, makeStatement(DIGEST, 'x')), [pair().trusted])).toMatch(/is not signed by ci.pub \(another key/);
  });

  it('reads in-toto v0.1 and v1 statements, and refuses another _type after the signature verified', () => {
    const statement = (type: string) => Buffer.from(JSON.stringify({ _type: type, subject: [{ digest: { sha256: 'a'.repeat(64) } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} }));
    expect(openBundle(makeBundle(ci.privateKey, ci.trusted.hash, statement('https://in-toto.io/Statement/v0.1')), [ci.trusted])).toMatchObject({ subjects: [{ digest: DIGEST, identity: undefined }] });
    expect(openBundle(makeBundle(ci.privateKey, ci.trusted.hash, statement('https://example.com/other')), [ci.trusted])).toMatch(/_type "https:\/\/example.com\/other"/);
  });

  const refused: [string, (bundle: Record<string, unknown>) => unknown, RegExp][] = [
    ['another media type', (bundle) => ({ ...bundle, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }), /not application\/vnd.dev.sigstore.bundle.v0.3\+json/],
    ['a messageSignature', (bundle) => ({ mediaType: BUNDLE_MEDIA_TYPE, verificationMaterial: bundle.verificationMaterial, messageSignature: { signature: 'AA==' } }), /sign-blob/],
    ['two DSSE signatures', (bundle) => {
      const envelope = bundle.dsseEnvelope as { signatures: unknown[] };
      return { ...bundle, dsseEnvelope: { ...envelope, signatures: [...envelope.signatures, ...envelope.signatures] } };
    }, /exactly one DSSE signature/],
    ['another payload type', (bundle) => ({ ...bundle, dsseEnvelope: { ...(bundle.dsseEnvelope as object), payloadType: 'text/plain' } }), /payloadType "text\/plain"/],
    ['a keyless bundle by no trusted key', (bundle) => ({ ...bundle, verificationMaterial: { certificate: { rawBytes: 'AA==' } }, dsseEnvelope: { ...(bundle.dsseEnvelope as object), signatures: [{ sig: 'AAAA' }] } }), /keyless bundle \(Fulcio certificate\)/],
  ];

  it.each(refused)('refuses %s, saying why', (_case, change, reason) => {
    expect(open(change(signed()))).toMatch(reason);
  });
});
