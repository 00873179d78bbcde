// The push side of a registry with the referrers API (its OCI-Subject header), which Debian's
// docker-registry 2.8 cannot show: the integration test covers the tag-schema side against it.
import { describe, expect, it } from 'vitest';
import { RegistryTransport } from '../../../src/oci/transport.ts';
import { pushBundleReferrer } from '../../../src/policy/sign-bundle.ts';
import { fakeSend, type Answer } from '../oci/transport/fake-send.ts';

const SUBJECT = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 400 };

function registry(withApi: boolean) {
  const inner = fakeSend((request): Answer => {
    const { pathname } = new URL(request.url);
    if (pathname === '/v2/') return { status: 200 };
    if (request.method === 'POST') return { status: 202, headers: { location: '/v2/ci/app/blobs/uploads/u1' } };
    if (request.method === 'PUT' && pathname.includes('/blobs/')) return { status: 201 };
    if (request.method === 'PUT' && pathname.includes('/manifests/sha256:')) return { status: 201, headers: withApi ? { 'oci-subject': SUBJECT.digest } : {} };
    if (request.method === 'PUT') return { status: 201 };
    return { status: 404 };
  });
  const transport = new RegistryTransport({ host: 'reg.example', send: inner.send, retryDelayMs: 1, random: () => 0 });
  return { source: { label: 'registry reg.example', repository: 'ci/app', transport }, seen: inner.seen };
}

const manifestPuts = (seen: { method: string; url: string }[]): string[] => seen.filter((request) => request.method === 'PUT' && request.url.includes('/manifests/')).map((request) => new URL(request.url).pathname);

describe('pushBundleReferrer', () => {
  it('leaves the listing to a registry that answers with OCI-Subject', async () => {
    const { source, seen } = registry(true);
    const pushed = await pushBundleReferrer(source, SUBJECT, Buffer.from('{"bundle":1}'), 'reg.example/ci/app');
    expect(pushed.listed).toBe('referrers API');
    expect(manifestPuts(seen)).toEqual([`/v2/ci/app/manifests/${pushed.digest}`]);
  });

  it('writes the sha256-HEX referrers tag where the registry did not take the subject', async () => {
    const { source, seen } = registry(false);
    const pushed = await pushBundleReferrer(source, SUBJECT, Buffer.from('{"bundle":1}'), 'reg.example/ci/app');
    expect(pushed.listed).toBe(`tag sha256-${'a'.repeat(64)}`);
    expect(manifestPuts(seen)).toEqual([`/v2/ci/app/manifests/${pushed.digest}`, `/v2/ci/app/manifests/sha256-${'a'.repeat(64)}`]);
    const index = JSON.parse(seen.at(-1)?.body?.toString() ?? '{}') as { manifests: { digest: string; artifactType: string }[] };
    expect(index.manifests).toEqual([expect.objectContaining({ digest: pushed.digest, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' })]);
  });
});
