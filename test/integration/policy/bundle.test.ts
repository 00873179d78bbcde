// cosign v3's Sigstore bundles as OCI 1.1 referrers, on Debian's docker-registry 2.8 (no referrers
// API: the referrers tag schema), written by an independent writer (statement and bundle spelled
// out by hand, the DSSE PAE signed by openssl) and by `ocinit sign --bundle`, whose output is in
// turn checked with openssl. Each bad case is refused before any layer is downloaded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/log/errors.ts';
import { Logger } from '../../../src/log/logger.ts';
import { pullAndUnpack, type PullOptions } from '../../../src/oci/index.ts';
import { parseReference } from '../../../src/reference/reference.ts';
import { loadPolicy } from '../../../src/policy/load.ts';
import { loadSigningKey, signImage } from '../../../src/policy/sign.ts';
import { ImageRefusedError, PolicyVerifier } from '../../../src/policy/verifier.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { makeKey, type TestKey } from '../../support/cosign.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { pullWithPolicy, type PolicyPull } from '../../support/policy-pull.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { BUNDLE_TYPE, bundleText, pushBundleReferrer, statementText } from '../../support/sigstore-bundle.ts';

let registry: TestRegistry;
let work: string;
let trusted: TestKey;
let stranger: TestKey;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

interface Pushed {
  name: string;
  reference: string;
  digest: string;
  size: number;
  layer: string;
}

async function pushImage(name: string, content: string): Promise<Pushed> {
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content }] }] });
  const reference = await pushLayout(layout, 'v1', registry, { name });
  return { name, reference, digest: built.manifest.digest, size: built.manifest.size, layer: built.layers[0]?.digest ?? '' };
}

function verifier(signedIdentity?: unknown, key: TestKey = trusted): PolicyVerifier {
  const file = fresh('policy.json');
  const requirement = { type: 'sigstoreSigned', keyPath: key.publicFile, ...(signedIdentity === undefined ? {} : { signedIdentity }) };
  writeFileSync(file, JSON.stringify({ default: [requirement] }));
  return new PolicyVerifier(loadPolicy(file));
}

const pullWith = (reference: string, policy: PolicyVerifier): Promise<PolicyPull> => pullWithPolicy(reference, policy, { store: fresh('store'), target: fresh('root') });

const byDigest = (image: Pushed): string => `${registry.host}/${image.name}@${image.digest}`;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-bundle-'));
  trusted = makeKey(work, 'trusted');
  stranger = makeKey(work, 'stranger');
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('Sigstore bundle referrers (cosign v3) on a registry without the referrers API', () => {
  it("accepts cosign v3's digest-only statement for the digest, and by tag only where signedIdentity allows any tag", async () => {
    const image = await pushImage('bundle/app', 'bundled');
    await pushBundleReferrer(registry, image.name, image.digest, image.size, bundleText(statementText(image.digest), trusted, work));
    const pinned = await pullWith(byDigest(image), verifier());
    expect(pinned.error === undefined ? undefined : describeError(pinned.error)).toBeUndefined();
    expect(pinned.pulled?.verdict).toEqual({ signed: true, text: `signed: ${image.digest} verified with ${trusted.publicFile} (default, Sigstore bundle)` });
    expect(existsSync(join(pinned.target, 'hello'))).toBe(true);
    // A tag is only believed from a signature naming it; cosign v3's statement names none.
    const tagged = await pullWith(image.reference, verifier());
    expect(describeError(tagged.error)).toMatch(/bundle 1 \(sha256:[a-f0-9]{64}\) names no identity \(cosign v3 signs the digest alone\), taken as .*bundle\/app@sha256:[a-f0-9]{64}, which signedIdentity matchRepoDigestOrExact does not accept/);
    const anyTag = await pullWith(image.reference, verifier({ type: 'matchRepository' }));
    expect(anyTag.pulled?.verdict?.signed).toBe(true);
  });

  it('accepts a statement naming the tag it was signed as, like a simple-signing identity', async () => {
    const image = await pushImage('bundle/named', 'named');
    await pushBundleReferrer(registry, image.name, image.digest, image.size, bundleText(statementText(image.digest, image.reference), trusted, work));
    const { pulled, error } = await pullWith(image.reference, verifier());
    expect(error === undefined ? undefined : describeError(error)).toBeUndefined();
    expect(pulled?.verdict?.text).toContain('Sigstore bundle');
  });

  const refusals: [string, (image: Pushed) => Promise<void>, RegExp][] = [
    ['no signature at all', async () => undefined, /no signature at .*:sha256-[a-f0-9]{64}\.sig.* nor among the referrers of .*@sha256:[a-f0-9]{64}/],
    ['a bundle by another key', (image) => pushBundleReferrer(registry, image.name, image.digest, image.size, bundleText(statementText(image.digest), stranger, work)).then(() => undefined), /bundle 1 \(sha256:[a-f0-9]{64}\) is not signed by .*trusted\.pub/],
    [
      'a tampered statement',
      async (image) => {
        const other = `sha256:${'0'.repeat(64)}`;
        // Signed for another digest; the envelope then carries this image's digest instead.
        await pushBundleReferrer(registry, image.name, image.digest, image.size, bundleText(statementText(image.digest), trusted, work, statementText(other)));
      },
      /is not signed by .*\(another key, or a tampered statement\)/,
    ],
    [
      "another image's bundle listed for this one",
      async (image) => {
        const other = await pushImage(image.name.replace('bad', 'other'), `other ${counter}`);
        await pushBundleReferrer(registry, image.name, image.digest, image.size, bundleText(statementText(other.digest), trusted, work));
      },
      /signs manifest sha256:[a-f0-9]{64}, not sha256:[a-f0-9]{64} \(a signature of another image/,
    ],
    [
      'a referrer of another image listed under this one',
      async (image) => {
        const other = await pushImage(image.name, `sibling ${counter}`);
        await pushBundleReferrer(registry, image.name, other.digest, other.size, bundleText(statementText(other.digest), trusted, work), image.digest);
      },
      /is a referrer of sha256:[a-f0-9]{64}, not of sha256:[a-f0-9]{64} \(listed for another image\)/,
    ],
    [
      'an attestation (another predicate type) by the trusted key',
      (image) => pushBundleReferrer(registry, image.name, image.digest, image.size, bundleText(statementText(image.digest, undefined, 'https://slsa.dev/provenance/v1'), trusted, work)).then(() => undefined),
      /predicateType "https:\/\/slsa.dev\/provenance\/v1" \(an attestation\), not https:\/\/sigstore.dev\/cosign\/sign\/v1/,
    ],
  ];

  it.each(refusals)('refuses %s before downloading any layer', async (_case, prepare, reason) => {
    const image = await pushImage(`bad/app${counter++}`, `bad ${counter}`);
    await prepare(image);
    const { error, target, store, pulled } = await pullWith(byDigest(image), verifier());
    expect(pulled).toBeUndefined();
    expect(error).toBeInstanceOf(ImageRefusedError);
    expect((error as Error).message).toMatch(reason);
    expect(existsSync(target)).toBe(false);
    expect((await store.listBlobs()).includes(image.layer)).toBe(false);
  });
});

describe('Sigstore bundles through a mirror', () => {
  it("takes the registry's bundle where the mirror has no referrers, and refuses another key's bundle the mirror serves", async () => {
    const mirror = await startRegistry();
    try {
      const layout = fresh('layout');
      const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content: 'mirrored bundle' }] }] });
      await pushLayout(layout, 'v1', registry, { name: 'mirrored/bundle' });
      await pushLayout(layout, 'v1', mirror, { name: 'mirrored/bundle' });
      const digest = built.manifest.digest;
      await pushBundleReferrer(registry, 'mirrored/bundle', digest, built.manifest.size, bundleText(statementText(digest), trusted, work));
      const mirrors = { [registry.host]: [{ location: mirror.host, insecure: true }] };
      const reference = parseReference(`${registry.host}/mirrored/bundle@${digest}`);
      const through = await pullAndUnpack(reference, fresh('root'), { store: new ContentStore(fresh('store')), tlsVerify: false, verifier: verifier(), mirrors });
      expect(through.source).toBe(`mirror ${mirror.host}`);
      expect(through.verdict?.signed).toBe(true);
      // Once the mirror lists a bundle of its own (by another key), that is what is judged.
      await pushBundleReferrer(mirror, 'mirrored/bundle', digest, built.manifest.size, bundleText(statementText(digest), stranger, work));
      const refused = await pullAndUnpack(reference, fresh('root'), { store: new ContentStore(fresh('store')), tlsVerify: false, verifier: verifier(), mirrors }).then(() => '', (error: unknown) => describeError(error));
      expect(refused).toMatch(new RegExp(`no valid signature at the referrers of .*\\(tag sha256-[a-f0-9]{64}\\) from mirror ${mirror.host}: bundle 1 .* is not signed by`));
    } finally {
      await mirror.stop();
    }
  });
});

describe('Sigstore bundles through an outage', () => {
  it('verifies a cached image with the bundle stored when it was pulled, though the .sig tag was never there', async () => {
    const upstream = await startRegistry();
    let running = true;
    try {
      const layout = fresh('layout');
      const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content: 'outage' }] }] });
      await pushLayout(layout, 'v1', upstream, { name: 'outage/bundled' });
      await pushBundleReferrer(upstream, 'outage/bundled', built.manifest.digest, built.manifest.size, bundleText(statementText(built.manifest.digest), trusted, work));
      const reference = parseReference(`${upstream.host}/outage/bundled@${built.manifest.digest}`);
      const store = new ContentStore(fresh('store'));
      let text = '';
      const log = new Logger({ sink: (chunk) => (text += chunk), color: false });
      const options: PullOptions = { store, tlsVerify: false, verifier: verifier(), log, attempts: 1, retryDelayMs: 1 };
      expect((await pullAndUnpack(reference, fresh('root'), options)).verdict?.signed).toBe(true);
      await upstream.stop();
      running = false;
      const offline = await pullAndUnpack(reference, fresh('root'), options);
      expect(offline.verdict?.text).toBe(`signed: ${built.manifest.digest} verified with ${trusted.publicFile} (default, Sigstore bundle)`);
      expect(text).toMatch(/using the Sigstore bundles of .*outage\/bundled@sha256:[a-f0-9]{64} stored when they were last fetched/);
    } finally {
      if (running) await upstream.stop();
    }
  });
});

describe('ocinit sign --bundle', () => {
  it('pushes a referrer in the tag schema layout that openssl verifies and the pull path accepts', async () => {
    const image = await pushImage('signed/bundle', 'signed with a bundle');
    const result = await signImage(image.reference, loadSigningKey(trusted.privateFile), { store: new ContentStore(fresh('store')), tlsVerify: false }, 'bundle');
    expect(result.digest).toBe(image.digest);
    expect(result.location).toMatch(new RegExp(`^${registry.host}/signed/bundle@sha256:[a-f0-9]{64}$`));

    // The layout, read with plain HTTP: the referrers tag lists the referrer; its one layer is the bundle.
    const get = async (path: string, accept: string): Promise<Buffer> => Buffer.from(await (await fetch(`${registry.url}/v2/signed/bundle/${path}`, { headers: { accept } })).arrayBuffer());
    const index = JSON.parse((await get(`manifests/sha256-${image.digest.slice(7)}`, 'application/vnd.oci.image.index.v1+json')).toString()) as { manifests: { digest: string; artifactType: string }[] };
    expect(index.manifests).toEqual([expect.objectContaining({ digest: result.location.split('@')[1], artifactType: BUNDLE_TYPE })]);
    const manifest = JSON.parse((await get(`manifests/${index.manifests[0]?.digest ?? ''}`, 'application/vnd.oci.image.manifest.v1+json')).toString()) as { artifactType: string; subject: { digest: string }; layers: { digest: string; mediaType: string }[] };
    expect(manifest.artifactType).toBe(BUNDLE_TYPE);
    expect(manifest.subject.digest).toBe(image.digest);
    const bundle = JSON.parse((await get(`blobs/${manifest.layers[0]?.digest ?? ''}`, '*/*')).toString()) as { mediaType: string; dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] } };
    expect(bundle.mediaType).toBe(BUNDLE_TYPE);
    const statement = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    expect(JSON.parse(statement.toString())).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: image.reference, digest: { sha256: image.digest.slice(7) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    });

    // openssl, over the PAE written out by hand.
    const type = bundle.dsseEnvelope.payloadType;
    const paeFile = fresh('pae');
    const sigFile = fresh('sig');
    writeFileSync(paeFile, Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]));
    writeFileSync(sigFile, Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? '', 'base64'));
    expect(execFileSync('openssl', ['dgst', '-sha256', '-verify', trusted.publicFile, '-signature', sigFile, paeFile]).toString()).toContain('Verified OK');

    const { pulled, error } = await pullWith(image.reference, verifier());
    expect(error === undefined ? undefined : describeError(error)).toBeUndefined();
    expect(pulled?.verdict?.text).toBe(`signed: ${image.digest} verified with ${trusted.publicFile} (default, Sigstore bundle)`);
    expect(describeError((await pullWith(image.reference, verifier(undefined, stranger))).error)).toMatch(/bundle 1 .* is not signed by .*stranger\.pub/);

    // A second signature keeps the first listed.
    await signImage(image.reference, loadSigningKey(stranger.privateFile), { store: new ContentStore(fresh('store')), tlsVerify: false }, 'bundle');
    const again = JSON.parse((await get(`manifests/sha256-${image.digest.slice(7)}`, 'application/vnd.oci.image.index.v1+json')).toString()) as { manifests: unknown[] };
    expect(again.manifests).toHaveLength(2);
    expect((await pullWith(image.reference, verifier(undefined, stranger))).pulled?.verdict?.signed).toBe(true);
  });
});
