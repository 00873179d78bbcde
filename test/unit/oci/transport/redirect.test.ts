import { describe, expect, it } from 'vitest';
import { withRedirects } from '../../../../src/oci/transport/redirect.ts';
import { fakeSend, GET } from './fake-send.ts';

const peer = { host: 'reg.example', tlsVerify: true };

describe('redirect layer', () => {
  it('follows redirects keeping method and body, and Authorization only on the original origin', async () => {
    const inner = fakeSend((request) => {
      if (request.url === 'https://reg.example/v2/a/blobs/x') return { status: 307, headers: { location: 'https://cdn.example/blob?sig=1' } };
      if (request.url.startsWith('https://cdn.example/')) return { status: 302, headers: { location: 'https://reg.example/v2/back' } };
      return { status: 200 };
    });
    const body = Buffer.from('data');
    const response = await withRedirects(inner.send, peer)(GET('https://reg.example/v2/a/blobs/x', { method: 'PUT', body, headers: { authorization: 'Bearer t', range: 'bytes=5-' } }));
    expect(response.status).toBe(200);
    expect(inner.seen.map((request) => [request.url, request.method, request.body, request.headers.authorization, request.headers.range])).toEqual([
      ['https://reg.example/v2/a/blobs/x', 'PUT', body, 'Bearer t', 'bytes=5-'],
      ['https://cdn.example/blob?sig=1', 'PUT', body, undefined, 'bytes=5-'],
      ['https://reg.example/v2/back', 'PUT', body, 'Bearer t', 'bytes=5-'],
    ]);
  });

  it('refuses a downgrade to plain HTTP while TLS is verified, allows it otherwise', async () => {
    const inner = fakeSend((request) => (request.url.startsWith('https:') ? { status: 302, headers: { location: 'http://cdn.example/b' } } : { status: 200 }));
    await expect(withRedirects(inner.send, peer)(GET('https://reg.example/x'))).rejects.toThrow('registry reg.example redirected to plain HTTP while testing; refused');
    expect((await withRedirects(inner.send, { ...peer, tlsVerify: false })(GET('https://reg.example/x'))).status).toBe(200);
  });

  it('fails on a redirect without Location and on a loop, naming the registry', async () => {
    await expect(withRedirects(fakeSend(() => ({ status: 301 })).send, peer)(GET('https://reg.example/x'))).rejects.toThrow('redirected without a Location while testing');
    const loop = fakeSend(() => ({ status: 302, headers: { location: '/again' } }));
    await expect(withRedirects(loop.send, peer)(GET('https://reg.example/x'))).rejects.toThrow('registry reg.example redirected more than 5 times while testing');
    expect(loop.seen).toHaveLength(6);
  });
});
