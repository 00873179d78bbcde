// The policy enforced on pulls from a real registry, with signatures written by an independent
// signer (openssl, payload spelled out by hand): each bad case is refused before any layer is
// downloaded, and nothing is unpacked.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/log/errors.ts';
import type { PullOptions } from '../../../src/oci/index.ts';
import { loadPolicy } from '../../../src/policy/load.ts';
import { ImageRefusedError, PolicyVerifier } from '../../../src/policy/verifier.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { cosignSign, makeKey, opensslSign, payloadText, pushSignatureImage, type TestKey } from '../../support/cosign.ts';
import { buildImageLayout, pushLayout, writeImage, writeIndex, tagLayout } from '../../support/image.ts';
import { pullWithPolicy, type PolicyPull } from '../../support/policy-pull.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { startTokenServer } from '../../support/token-server.ts';
import { parseCredentials } from '../../../src/oci/index.ts';
import { loadSigningKey, signImage } from '../../../src/policy/sign.ts';

let registry: TestRegistry;
let work: string;
let trusted: TestKey;
let stranger: TestKey;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

async function pushImage(target: TestRegistry, name: string, tag: string, content: string): Promise<{ reference: string; digest: string; layer: string }> {
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, tag, { layers: [{ files: [{ path: 'hello', content }] }] });
  const reference = await pushLayout(layout, tag, target, { name });
  return { reference, digest: built.manifest.digest, layer: built.layers[0]?.digest ?? '' };
}

function loadPolicyWith(file: string, document: unknown) {
  writeFileSync(file, JSON.stringify(document));
  return loadPolicy(file);
}

const pullWith = (reference: string, verifier: PolicyVerifier, extra: Partial<PullOptions> = {}): Promise<PolicyPull> =>
  pullWithPolicy(reference, verifier, { store: fresh('store'), target: fresh('root') }, extra);

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-policy-'));
  trusted = makeKey(work, 'trusted');
  stranger = makeKey(work, 'stranger');
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('a signature policy on the pull path', () => {
  const policy = (): PolicyVerifier => new PolicyVerifier(loadPolicyWith(fresh('policy.json'), { default: [{ type: 'sigstoreSigned', keyPath: trusted.publicFile }] }));

  it('pulls a signed image and says which key verified it', async () => {
    const image = await pushImage(registry, 'signed/app', 'v1', 'signed');
    await cosignSign(registry, 'signed/app', image.digest, image.reference, trusted, work);
    const { pulled, target, error } = await pullWith(image.reference, policy());
    expect(error).toBeUndefined();
    expect(pulled?.verdict).toEqual({ signed: true, text: `signed: ${image.digest} verified with ${trusted.publicFile} (default)` });
    expect(existsSync(join(target, 'hello'))).toBe(true);
  });

  it('accepts RSA and Ed25519 keys signed by openssl', async () => {
    for (const kind of ['rsa', 'ed25519'] as const) {
      const key = makeKey(work, `k-${kind}`, kind);
      const image = await pushImage(registry, `kinds/${kind}`, 'v1', kind);
      await cosignSign(registry, `kinds/${kind}`, image.digest, image.reference, key, work);
      const verifier = new PolicyVerifier(loadPolicyWith(fresh('policy.json'), { default: [{ type: 'sigstoreSigned', keyPath: key.publicFile }] }));
      const { pulled, error } = await pullWith(image.reference, verifier);
      expect(error === undefined ? undefined : describeError(error)).toBeUndefined();
      expect(pulled?.verdict?.signed).toBe(true);
    }
  });

  const refusals: [string, (image: { reference: string; digest: string; layer: string }) => Promise<void>, RegExp][] = [
    ['an unsigned image', async () => undefined, /no signature at 127.0.0.1:\d+\/bad\/app\d+:sha256-[a-f0-9]{64}.sig/],
    ['a signature by another key', (image) => cosignSign(registry, repoOf(image.reference), image.digest, image.reference, stranger, work).then(() => undefined), /is not signed by .*trusted.pub/],
    [
      'a tampered payload',
      async (image) => {
        const signed = Buffer.from(payloadText(image.reference, image.digest));
        const tampered = Buffer.from(payloadText(image.reference, image.digest).replace('"optional":null', '"optional":{"creator":"x"}'));
        await pushSignatureImage(registry, repoOf(image.reference), image.digest, [{ payload: tampered, signature: opensslSign(trusted, signed, work) }]);
      },
      /is not signed by/,
    ],
    [
      "another image's signature replayed onto this one",
      async (image) => {
        const other = await pushImage(registry, repoOf(image.reference), 'other', `other ${counter}`);
        const layer = await cosignSign(registry, repoOf(image.reference), other.digest, image.reference, trusted, work);
        await pushSignatureImage(registry, repoOf(image.reference), image.digest, [layer]);
      },
      /signs manifest sha256:[a-f0-9]{64}, not sha256:[a-f0-9]{64} \(a signature of another image, or the tag was moved/,
    ],
    [
      'a signature for another repository',
      (image) => cosignSign(registry, repoOf(image.reference), image.digest, image.reference.replace('/bad/', '/elsewhere/'), trusted, work).then(() => undefined),
      /claims identity 127.0.0.1:\d+\/elsewhere\/app\d+:v1, which signedIdentity matchRepoDigestOrExact does not accept/,
    ],
  ];

  it.each(refusals)('refuses %s before downloading any layer', async (_case, prepare, reason) => {
    const name = `bad/app${counter++}`;
    const image = await pushImage(registry, name, 'v1', `bad ${counter}`);
    await prepare(image);
    const { error, target, store, pulled } = await pullWith(image.reference, policy());
    expect(pulled).toBeUndefined();
    expect(error).toBeInstanceOf(ImageRefusedError);
    expect((error as Error).message).toMatch(reason);
    expect((error as ImageRefusedError).image).toBe(image.reference);
    expect(existsSync(target)).toBe(false);
    expect((await store.listBlobs()).includes(image.layer)).toBe(false);
  });

  it('refuses an image whose tag moved after it was signed', async () => {
    const first = await pushImage(registry, 'moved/app', 'release', 'first');
    await cosignSign(registry, 'moved/app', first.digest, first.reference, trusted, work);
    expect((await pullWith(first.reference, policy())).error).toBeUndefined();
    const second = await pushImage(registry, 'moved/app', 'release', 'second');
    const { error } = await pullWith(second.reference, policy());
    expect(describeError(error)).toMatch(/no signature at .*moved\/app:sha256-/);
  });

  it('applies reject and insecureAcceptAnything scopes beside sigstoreSigned for the rest', async () => {
    const open = await pushImage(registry, 'open/app', 'v1', 'open');
    const closed = await pushImage(registry, 'closed/app', 'v1', 'closed');
    const other = await pushImage(registry, 'rest/app', 'v1', 'rest');
    const verifier = new PolicyVerifier(
      loadPolicyWith(fresh('policy.json'), {
        default: [{ type: 'sigstoreSigned', keyPath: trusted.publicFile }],
        transports: { docker: { [`${registry.host}/open`]: [{ type: 'insecureAcceptAnything' }], [`${registry.host}/closed/app`]: [{ type: 'reject' }] } },
      }),
    );
    const accepted = await pullWith(open.reference, verifier);
    expect(accepted.pulled?.verdict).toEqual({ signed: false, text: `unsigned: accepted by transports.docker["${registry.host}/open"] (insecureAcceptAnything)` });
    expect(describeError((await pullWith(closed.reference, verifier)).error)).toContain(`refused: the policy rejects every image in transports.docker["${registry.host}/closed/app"]`);
    expect(describeError((await pullWith(other.reference, verifier)).error)).toMatch(/no signature at/);
  });

  it('verifies the index digest a multi-arch tag points at', async () => {
    const layout = fresh('layout');
    const amd64 = await writeImage(layout, { layers: [{ files: [{ path: 'arch', content: 'amd64' }] }], architecture: 'amd64' });
    const arm64 = await writeImage(layout, { layers: [{ files: [{ path: 'arch', content: 'arm64' }] }], architecture: 'arm64' });
    const index = await writeIndex(layout, [
      { ...amd64.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm64.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    await tagLayout(layout, 'multi', index);
    const reference = await pushLayout(layout, 'multi', registry, { name: 'multi/app', all: true });
    // A signature of the platform's manifest alone is not one of what the tag named.
    await cosignSign(registry, 'multi/app', amd64.manifest.digest, reference, trusted, work);
    const wrong = await pullWith(reference, policy(), { platform: { os: 'linux', architecture: 'amd64' } });
    expect(describeError(wrong.error)).toMatch(/no signature at .*multi\/app:sha256-/);
    await cosignSign(registry, 'multi/app', index.digest, reference, trusted, work);
    const { pulled, error } = await pullWith(reference, policy(), { platform: { os: 'linux', architecture: 'amd64' } });
    expect(error).toBeUndefined();
    expect(pulled?.manifestDigest).toBe(amd64.manifest.digest);
    expect(pulled?.verdict?.text).toContain(`signed: ${index.digest}`);
  });

  it('believes the signature the mirror serves, and refuses it when another key made it', async () => {
    const mirror = await startRegistry();
    try {
      const upstream = await pushImage(registry, 'mirrored/app', 'v1', 'mirrored');
      await cosignSign(registry, 'mirrored/app', upstream.digest, upstream.reference, trusted, work);
      // The mirror holds the same image but a signature by another key.
      const layout = fresh('layout');
      await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content: 'mirrored' }] }] });
      await pushLayout(layout, 'v1', mirror, { name: 'mirrored/app' });
      await cosignSign(mirror, 'mirrored/app', upstream.digest, upstream.reference, stranger, work);
      const mirrors = { [registry.host]: [{ location: mirror.host, insecure: true }] };
      const { error } = await pullWith(upstream.reference, policy(), { mirrors });
      expect(describeError(error)).toMatch(new RegExp(`no valid signature at .*from mirror ${mirror.host}: signature 1 .* is not signed by`));
      // Without the bad signature the mirror has no such tag, and the registry's signature is used.
      const clean = await startRegistry();
      try {
        await pushLayout(layout, 'v1', clean, { name: 'mirrored/app' });
        const through = await pullWith(upstream.reference, policy(), { mirrors: { [registry.host]: [{ location: clean.host, insecure: true }] } });
        expect(through.error).toBeUndefined();
        expect(through.pulled?.source).toBe(`mirror ${clean.host}`);
        expect(through.pulled?.verdict?.signed).toBe(true);
      } finally {
        await clean.stop();
      }
    } finally {
      await mirror.stop();
    }
  });
});

describe('signing on a registry with bearer-token auth', () => {
  it('asks for a pull,push token to sign, and the signature verifies with the same credentials', async () => {
    const tokens = await startTokenServer({ users: { alice: 'secret-pw' }, anonymousPull: false });
    const secured = await startRegistry({ token: tokens });
    try {
      const layout = fresh('layout');
      const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content: 'private' }] }] });
      const reference = await pushLayout(layout, 'v1', secured, { name: 'team/app', creds: 'alice:secret-pw' });
      const credentials = parseCredentials('alice:secret-pw');
      const store = new ContentStore(fresh('store'));
      const anonymous = await signImage(reference, loadSigningKey(trusted.privateFile), { store, tlsVerify: false }).catch((error: unknown) => describeError(error));
      expect(anonymous).toMatch(/refused the credentials/);
      tokens.requests.length = 0;
      const result = await signImage(reference, loadSigningKey(trusted.privateFile), { store, tlsVerify: false, credentials });
      expect(result).toEqual({ digest: built.manifest.digest, identity: reference, location: `${secured.host}/team/app:sha256-${built.manifest.digest.slice(7)}.sig`, signatures: 1 });
      expect(tokens.requests.map((request) => request.scopes)).toContainEqual(['repository:team/app:pull,push']);
      const verifier = new PolicyVerifier(loadPolicyWith(fresh('policy.json'), { default: [{ type: 'sigstoreSigned', keyPath: trusted.publicFile }] }));
      const { pulled, error } = await pullWith(reference, verifier, { credentials });
      expect(error === undefined ? undefined : describeError(error)).toBeUndefined();
      expect(pulled?.verdict?.signed).toBe(true);
    } finally {
      await secured.stop();
      await tokens.stop();
    }
  });
});

function repoOf(reference: string): string {
  return reference.slice(reference.indexOf('/') + 1, reference.lastIndexOf(':'));
}

