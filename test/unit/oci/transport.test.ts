import { describe, expect, it } from 'vitest';
import { RegistryTransport } from '../../../src/oci/transport.ts';
import { fakeSend, type Answer } from './transport/fake-send.ts';

describe('RegistryTransport.external (foreign layer URLs)', () => {
  it('refuses plain HTTP and non-HTTP URLs while TLS is verified, before any connection', async () => {
    const transport = new RegistryTransport({ host: '127.0.0.1:9' });
    await expect(transport.external('http://cdn.example/layer', 'test', 0)).rejects.toThrow('refusing http: layer URL http://cdn.example');
    await expect(transport.external('file:///etc/passwd', 'test', 0)).rejects.toThrow('refusing file: layer URL');
    await expect(transport.external('not a url', 'test', 0)).rejects.toThrow('invalid layer URL');
    await transport.close();
  });
});

describe('RegistryTransport (the layers wired, over an injected send)', () => {
  it('pings, takes a token, retries a 503, follows a redirect without the token, and names a 404', async () => {
    const inner = fakeSend((request): Answer => {
      const { origin, pathname } = new URL(request.url);
      if (pathname === '/v2/') return { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://reg.example/token",service="reg"' } };
      if (pathname === '/token') return { status: 200, body: '{"token":"T"}' };
      if (origin === 'https://cdn.example') return { status: 200, body: 'blob' };
      if (pathname.endsWith('/blobs/sha256:1')) return inner.seen.filter((seen) => seen.url === request.url).length === 1 ? { status: 503 } : { status: 307, headers: { location: 'https://cdn.example/b' } };
      return { status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}' };
    });
    const transport = new RegistryTransport({ host: 'reg.example', send: inner.send, retryDelayMs: 1, random: () => 0 });
    const blob = await transport.blob('/v2/a/blobs/sha256:1', 'repository:a:pull', 'downloading blob sha256:1', 7);
    expect(await blob.body.text()).toBe('blob');
    expect(inner.seen.map((request) => [request.url, request.headers.authorization, request.headers.range])).toEqual([
      ['https://reg.example/v2/', undefined, undefined],
      ['https://reg.example/token?service=reg&scope=repository%3Aa%3Apull', undefined, undefined],
      ['https://reg.example/v2/a/blobs/sha256:1', 'Bearer T', 'bytes=7-'],
      ['https://reg.example/v2/a/blobs/sha256:1', 'Bearer T', 'bytes=7-'],
      ['https://cdn.example/b', undefined, 'bytes=7-'],
    ]);
    const missing = await transport.get('/v2/a/manifests/v9', { scope: 'repository:a:pull', what: 'fetching manifest v9' });
    await expect(transport.fail(missing, 'fetching manifest v9', { image: 'reg.example/a:v9' })).rejects.toMatchObject({
      code: 'OCINIT_REGISTRY',
      status: 404,
      codes: ['MANIFEST_UNKNOWN'],
      message: 'registry reg.example has no such thing while fetching manifest v9 (HTTP 404) (MANIFEST_UNKNOWN: manifest unknown)',
    });
  });
});
