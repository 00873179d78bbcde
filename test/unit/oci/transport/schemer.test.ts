import { describe, expect, it } from 'vitest';
import { Schemer, withScheme } from '../../../../src/oci/transport/schemer.ts';
import { codedError, fakeSend, GET } from './fake-send.ts';

describe('scheme layer', () => {
  it('pings HTTPS once, keeps the challenge (bearer before basic) and resolves paths against the origin', async () => {
    const inner = fakeSend((request) =>
      request.url.endsWith('/v2/') ? { status: 401, headers: { 'www-authenticate': 'Basic realm="r", Bearer realm="https://auth/token",service=reg' } } : { status: 200 },
    );
    const schemer = new Schemer(inner.send, { host: 'reg.example:5000', tlsVerify: true });
    const send = withScheme(inner.send, schemer);
    await send(GET('/v2/a/manifests/v1'));
    await send(GET('https://reg.example:5000/v2/a/blobs/uploads/1?state=x'));
    expect(inner.seen.map((request) => request.url)).toEqual(['https://reg.example:5000/v2/', 'https://reg.example:5000/v2/a/manifests/v1', 'https://reg.example:5000/v2/a/blobs/uploads/1?state=x']);
    expect(await schemer.discover('again')).toEqual({ origin: 'https://reg.example:5000', challenge: { scheme: 'bearer', params: { realm: 'https://auth/token', service: 'reg' } } });
  });

  it('falls back to plain HTTP only when TLS is not verified, without retrying the HTTPS probe', async () => {
    const inner = fakeSend((request) => (request.url.startsWith('https:') ? codedError('ECONNRESET') : { status: 200 }));
    expect(await new Schemer(inner.send, { host: 'h', tlsVerify: false }).discover('x')).toEqual({ origin: 'http://h', challenge: undefined });
    expect(inner.seen.map((request) => [request.url, request.retryConnectionErrors])).toEqual([
      ['https://h/v2/', false],
      ['http://h/v2/', true],
    ]);
    await expect(new Schemer(inner.send, { host: 'h', tlsVerify: true }).discover('x')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('forgets a failed discovery so that the next request probes again; a 404 on /v2/ means no auth', async () => {
    const inner = fakeSend((_request, index) => (index === 0 ? codedError('ECONNREFUSED') : { status: 404 }));
    const schemer = new Schemer(inner.send, { host: 'h', tlsVerify: true });
    await expect(schemer.discover('x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await schemer.discover('x')).toEqual({ origin: 'https://h', challenge: undefined });
  });
});
