// The referrers API's answers, which Debian's docker-registry 2.8 (the integration tests' registry)
// cannot give: it has no API and always takes the tag-schema path.
import { describe, expect, it } from 'vitest';
import { fetchReferrers, referrersTag } from '../../../src/oci/referrers.ts';
import { RegistryTransport } from '../../../src/oci/transport.ts';
import { fakeSend, type Answer } from './transport/fake-send.ts';

const SUBJECT = `sha256:${'a'.repeat(64)}`;
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const entry = (digit: string, artifactType: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${digit.repeat(64)}`, size: 500, artifactType });
const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('1', BUNDLE), entry('2', 'application/spdx+json')] });

function sourceAnswering(answer: (path: string) => Answer) {
  const inner = fakeSend((request): Answer => {
    const { pathname } = new URL(request.url);
    return pathname === '/v2/' ? { status: 200 } : answer(pathname);
  });
  const transport = new RegistryTransport({ host: 'reg.example', send: inner.send, retryDelayMs: 1, random: () => 0 });
  return { source: { label: 'registry reg.example', repository: 'ci/app', transport }, seen: inner.seen };
}

describe('fetchReferrers', () => {
  it('asks the referrers API with the artifactType filter, and filters again when the registry did not', async () => {
    const { source, seen } = sourceAnswering(() => ({ status: 200, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: index }));
    const found = await fetchReferrers(source, SUBJECT, BUNDLE, 'reg.example/ci/app');
    expect(found?.via).toBe('referrers API');
    expect(found?.index.manifests.map((manifest) => manifest.digest)).toEqual([`sha256:${'1'.repeat(64)}`]);
    expect(seen.map((request) => request.url)).toContain(`https://reg.example/v2/ci/app/referrers/${SUBJECT}?artifactType=${encodeURIComponent(BUNDLE)}`);
  });

  it('falls back to the sha256-HEX tag on a 404, and finds nothing when the tag is absent too', async () => {
    const tagged = sourceAnswering((path) => (path.endsWith(`/manifests/${referrersTag(SUBJECT)}`) ? { status: 200, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: index } : { status: 404 }));
    const found = await fetchReferrers(tagged.source, SUBJECT, BUNDLE, 'reg.example/ci/app');
    expect(found?.via).toBe(`tag sha256-${'a'.repeat(64)}`);
    expect(found?.index.manifests).toHaveLength(1);
    const none = sourceAnswering(() => ({ status: 404 }));
    expect(await fetchReferrers(none.source, SUBJECT, BUNDLE, 'reg.example/ci/app')).toBeUndefined();
  });

  it('refuses an answer that is not an index, and a failure that is not a 404', async () => {
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: entry('3', BUNDLE), layers: [] });
    const wrong = sourceAnswering(() => ({ status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest }));
    await expect(fetchReferrers(wrong.source, SUBJECT, BUNDLE, 'reg.example/ci/app')).rejects.toThrow(/with an image manifest, not an index/);
    const denied = sourceAnswering(() => ({ status: 403 }));
    await expect(fetchReferrers(denied.source, SUBJECT, BUNDLE, 'reg.example/ci/app')).rejects.toMatchObject({ status: 403 });
  });
});
