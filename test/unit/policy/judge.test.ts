import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReference } from '../../../src/reference/reference.ts';
import { PolicyError } from '../../../src/policy/document.ts';
import { judge, type CandidateSignature } from '../../../src/policy/judge.ts';
import { parsePublicKey, type TrustedKey } from '../../../src/policy/keys.ts';
import { loadPolicy, type LoadedPolicy } from '../../../src/policy/load.ts';
import { makePayload, signPayload } from '../../../src/policy/simple-signing.ts';
import { makeBundle, makeStatement } from '../../../src/policy/sigstore-bundle.ts';
import { PolicyVerifier, RefuseAllVerifier } from '../../../src/policy/verifier.ts';
import { ContentStore } from '../../../src/store/index.ts';

const DIGEST = `sha256:${'1'.repeat(64)}`;
const OTHER = `sha256:${'2'.repeat(64)}`;

function keyPair(kind: 'ec' | 'ed25519' | 'rsa'): { privateKey: KeyObject; trusted: TrustedKey; pem: string } {
  const pair = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const trusted = parsePublicKey(Buffer.from(pem), `${kind}.pub`);
  if (typeof trusted === 'string') throw new Error(trusted);
  return { privateKey: pair.privateKey, trusted, pem };
}

const ec = keyPair('ec');
const stranger = keyPair('ec');

function signature(key: { privateKey: KeyObject; trusted: TrustedKey }, reference: string, digest: string): CandidateSignature {
  const payload = makePayload(reference, digest);
  return { kind: 'simple-signing', digest: 'sha256:payload', payload, signature: signPayload(key.privateKey, key.trusted.hash, payload) };
}

function policyWith(work: string, docker: Record<string, unknown[]>, fallback: unknown[] = [{ type: 'reject' }]): LoadedPolicy {
  writeFileSync(join(work, 'ci.pub'), ec.pem);
  writeFileSync(join(work, 'policy.json'), JSON.stringify({ default: fallback, transports: { docker } }));
  return loadPolicy(join(work, 'policy.json'));
}

const work = mkdtempSync(join(tmpdir(), 'ocinit-judge-'));
const policy = policyWith(work, {
  'registry.lab/ci': [{ type: 'sigstoreSigned', keyPath: 'ci.pub' }],
  'registry.lab/ci/repo-only': [{ type: 'sigstoreSigned', keyPath: 'ci.pub', signedIdentity: { type: 'matchRepository' } }],
  'registry.lab/public': [{ type: 'insecureAcceptAnything' }],
});

async function verdictFor(reference: string, signatures: CandidateSignature[], topDigest = DIGEST) {
  let asked = 0;
  const verdict = await judge({ policy, reference: parseReference(reference), topDigest, signatures: () => { asked++; return Promise.resolve({ location: 'registry.lab/x:sha256-1.sig', signatures }); } });
  return { ...verdict, asked };
}

describe('judging an image against a policy', () => {
  it('accepts a signature by a trusted key for this digest and identity, for each kind of key', async () => {
    for (const kind of ['ec', 'ed25519', 'rsa'] as const) {
      const pair = kind === 'ec' ? ec : keyPair(kind);
      writeFileSync(join(work, 'ci.pub'), pair.pem);
      const own = loadPolicy(join(work, 'policy.json'));
      const verdict = await judge({ policy: own, reference: parseReference('registry.lab/ci/app:1'), topDigest: DIGEST, signatures: () => Promise.resolve({ location: 'x', signatures: [signature(pair, 'registry.lab/ci/app:1', DIGEST)] }) });
      expect(verdict).toMatchObject({ accepted: true, signed: true, key: join(work, 'ci.pub'), scope: 'transports.docker["registry.lab/ci"]' });
    }
    writeFileSync(join(work, 'ci.pub'), ec.pem);
  });

  it('one valid signature among others is enough', async () => {
    const verdict = await verdictFor('registry.lab/ci/app:1', [signature(stranger, 'registry.lab/ci/app:1', DIGEST), signature(ec, 'registry.lab/ci/app:1', DIGEST)]);
    expect(verdict.accepted).toBe(true);
  });

  it.each([
    ['no signature', [], /no signature at registry.lab\/x:sha256-1.sig/],
    ['another key', [signature(stranger, 'registry.lab/ci/app:1', DIGEST)], /is not signed by .*ci.pub/],
    ['another digest (replayed, or the tag moved)', [signature(ec, 'registry.lab/ci/app:1', OTHER)], /signs manifest sha256:2+, not sha256:1+/],
    ['another identity', [signature(ec, 'registry.lab/ci/other:1', DIGEST)], /claims identity registry.lab\/ci\/other:1, which signedIdentity matchRepoDigestOrExact does not accept/],
    ['a tampered payload', [{ ...signature(ec, 'registry.lab/ci/app:1', DIGEST), payload: makePayload('registry.lab/ci/app:1', OTHER) }], /is not signed by/],
    ['no signature annotation', [{ ...signature(ec, 'registry.lab/ci/app:1', DIGEST), signature: undefined }], /no dev.cosignproject.cosign\/signature annotation/],
  ])('refuses %s', async (_case, signatures, reason) => {
    const verdict = await verdictFor('registry.lab/ci/app:1', signatures);
    expect(verdict.accepted).toBe(false);
    expect(verdict.text).toMatch(reason);
  });

  it('applies matchRepository: cosign signs the repository without a tag', async () => {
    expect((await verdictFor('registry.lab/ci/repo-only:7', [signature(ec, 'registry.lab/ci/repo-only', DIGEST)])).accepted).toBe(true);
    expect((await verdictFor('registry.lab/ci/app:7', [signature(ec, 'registry.lab/ci/app', DIGEST)])).accepted).toBe(false);
  });

  it('reject and insecureAcceptAnything decide without fetching signatures', async () => {
    expect(await verdictFor('registry.lab/public/app:1', [])).toMatchObject({ accepted: true, signed: false, asked: 0, text: 'unsigned: accepted by transports.docker["registry.lab/public"] (insecureAcceptAnything)' });
    expect(await verdictFor('quay.io/app:1', [signature(ec, 'quay.io/app:1', DIGEST)])).toMatchObject({ accepted: false, asked: 0, text: 'refused: the policy rejects every image in default' });
  });
});

describe('loading keys', () => {
  it('refuses the policy when a key is missing, private or of an unsupported kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocinit-keys-'));
    const write = (keyPath: string): string => {
      writeFileSync(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath }] }));
      return join(dir, 'policy.json');
    };
    expect(() => loadPolicy(write('missing.pub'))).toThrow(PolicyError);
    expect(() => loadPolicy(write('missing.pub'))).toThrow(/default\[0\].keyPath: cannot read key .*missing.pub/);
    writeFileSync(join(dir, 'private.pem'), ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    expect(() => loadPolicy(write('private.pem'))).toThrow(/this is a private key/);
    writeFileSync(join(dir, 'k1.pub'), generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect(() => loadPolicy(write('k1.pub'))).toThrow(/EC curve secp256k1 is not supported/);
    writeFileSync(join(dir, 'junk.pub'), 'junk');
    expect(() => loadPolicy(write('junk.pub'))).toThrow(/not a PEM public key/);
  });
});

describe('b2c.signatures=required', () => {
  it('narrows the built-in policy: what it accepts unsigned is refused, signed images still run', async () => {
    const store = new ContentStore(mkdtempSync(join(tmpdir(), 'ocinit-required-')));
    const image = { reference: parseReference('registry.lab/public/app:1'), topDigest: DIGEST, manifestDigest: DIGEST };
    expect(await new PolicyVerifier(policy).verify(image, { store })).toEqual({ signed: false, text: 'unsigned: accepted by transports.docker["registry.lab/public"] (insecureAcceptAnything)' });
    await expect(new PolicyVerifier(policy, { requireSignatures: true }).verify(image, { store })).rejects.toThrow(
      /registry.lab\/public\/app:1 \(sha256:1+\) refused: b2c.signatures=required, and transports.docker\["registry.lab\/public"\] of policy .* accepts it unsigned/,
    );
    await expect(new RefuseAllVerifier().verify(image)).rejects.toThrow(/b2c.signatures=required, and this initramfs has no built-in policy/);
  });
});

describe('signatures from more than one place', () => {
  const bundleOf = (reference: string, digest: string): CandidateSignature => ({ kind: 'bundle', digest: 'sha256:referrer', bundle: makeBundle(ec.privateKey, ec.trusted.hash, makeStatement(digest, reference)) });
  const input = (sources: (() => Promise<{ location: string; signatures: CandidateSignature[] }>)[]) => ({ policy, reference: parseReference('registry.lab/ci/app:1'), topDigest: DIGEST, signatures: sources });

  it('asks the referrers only when the .sig image held no valid signature', async () => {
    let asked = 0;
    const referrers = () => {
      asked++;
      return Promise.resolve({ location: 'the referrers', signatures: [bundleOf('registry.lab/ci/app:1', DIGEST)] });
    };
    const first = await judge(input([() => Promise.resolve({ location: 'the .sig', signatures: [signature(ec, 'registry.lab/ci/app:1', DIGEST)] }), referrers]));
    expect(first).toMatchObject({ accepted: true, text: expect.not.stringContaining('Sigstore bundle') });
    expect(asked).toBe(0);
    const second = await judge(input([() => Promise.resolve({ location: 'the .sig', signatures: [signature(stranger, 'registry.lab/ci/app:1', DIGEST)] }), referrers]));
    expect(second).toMatchObject({ accepted: true, text: expect.stringContaining('(transports.docker["registry.lab/ci"], Sigstore bundle)') });
    expect(asked).toBe(1);
  });

  it('takes a valid bundle when the .sig image could not be read, and throws that error when nothing else is valid', async () => {
    const unreadable = () => Promise.reject(new Error('registry unreachable'));
    const accepted = await judge(input([unreadable, () => Promise.resolve({ location: 'the referrers', signatures: [bundleOf('registry.lab/ci/app:1', DIGEST)] })]));
    expect(accepted.accepted).toBe(true);
    await expect(judge(input([unreadable, () => Promise.resolve({ location: 'the referrers', signatures: [] })]))).rejects.toThrow('registry unreachable');
  });

  it('names every place searched and why each candidate failed', async () => {
    const none = await judge(input([() => Promise.resolve({ location: 'A.sig', signatures: [] }), () => Promise.resolve({ location: 'the referrers of A', signatures: [] })]));
    expect(none.text).toBe('refused: no signature at A.sig nor among the referrers of A (transports.docker["registry.lab/ci"] requires sigstoreSigned)');
    const bad = await judge(input([() => Promise.resolve({ location: 'A.sig', signatures: [signature(stranger, 'registry.lab/ci/app:1', DIGEST)] }), () => Promise.resolve({ location: 'the referrers of A', signatures: [bundleOf('registry.lab/ci/app:1', OTHER)] })]));
    expect(bad.text).toMatch(/^refused: no valid signature at A.sig: signature 1 \(sha256:payload\) is not signed by .*; at the referrers of A: bundle 1 \(sha256:referrer\) signs manifest sha256:2+, not sha256:1+/);
  });
});
