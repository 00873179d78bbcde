import { describe, expect, it } from 'vitest';
import { Schemer, withScheme, type DiscoveryCache } from '../../../../src/oci/transport/schemer.ts';
import type { RegistryResponse, Send, TransportRequest } from '../../../../src/oci/transport/types.ts';
import { bodyOf, codedError, fakeSend, GET } from './fake-send.ts';

const fresh = (): DiscoveryCache => new Map();

/** An inner layer whose answers the test releases one by one, to see what is asked while a ping is pending. */
function heldSend(): { send: Send; seen: TransportRequest[]; answer: (urlPrefix: string, result: { status: number } | Error) => void } {
  const seen: TransportRequest[] = [];
  const pending = new Map<string, (result: { status: number } | Error) => void>();
  const send: Send = (request) => {
    seen.push(request);
    return new Promise<RegistryResponse>((resolve, reject) => {
      pending.set(request.url, (result) => (result instanceof Error ? reject(result) : resolve({ status: result.status, headers: {}, body: bodyOf(), url: request.url })));
    });
  };
  const answer = (urlPrefix: string, result: { status: number } | Error): void => {
    for (const [url, settle] of pending) if (url.startsWith(urlPrefix)) settle(result);
  };
  return { send, seen, answer };
}

describe('scheme layer', () => {
  it('pings HTTPS once, keeps the challenge (bearer before basic) and resolves paths against the origin', async () => {
    const inner = fakeSend((request) =>
      request.url.endsWith('/v2/') ? { status: 401, headers: { 'www-authenticate': 'Basic realm="r", Bearer realm="https://auth/token",service=reg' } } : { status: 200 },
    );
    const schemer = new Schemer(inner.send, { host: 'reg.example:5000', tlsVerify: true }, fresh());
    const send = withScheme(inner.send, schemer);
    await send(GET('/v2/a/manifests/v1'));
    await send(GET('https://reg.example:5000/v2/a/blobs/uploads/1?state=x'));
    expect(inner.seen.map((request) => request.url)).toEqual(['https://reg.example:5000/v2/', 'https://reg.example:5000/v2/a/manifests/v1', 'https://reg.example:5000/v2/a/blobs/uploads/1?state=x']);
    expect(await schemer.discover('again')).toEqual({ origin: 'https://reg.example:5000', challenge: { scheme: 'bearer', params: { realm: 'https://auth/token', service: 'reg' } } });
  });

  it('falls back to plain HTTP only when TLS is not verified, without retrying the HTTPS probe', async () => {
    const inner = fakeSend((request) => (request.url.startsWith('https:') ? codedError('ECONNRESET') : { status: 200 }));
    expect(await new Schemer(inner.send, { host: 'h', tlsVerify: false }, fresh()).discover('x')).toEqual({ origin: 'http://h', challenge: undefined });
    expect(inner.seen.map((request) => [request.url, request.retryConnectionErrors])).toEqual([
      ['https://h/v2/', false],
      ['http://h/v2/', true],
    ]);
    await expect(new Schemer(inner.send, { host: 'h', tlsVerify: true }, fresh()).discover('x')).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('forgets a failed discovery so that the next request probes again; a 404 on /v2/ means no auth', async () => {
    const inner = fakeSend((_request, index) => (index === 0 ? codedError('ECONNREFUSED') : { status: 404 }));
    const schemer = new Schemer(inner.send, { host: 'h', tlsVerify: true }, fresh());
    await expect(schemer.discover('x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await schemer.discover('x')).toEqual({ origin: 'https://h', challenge: undefined });
  });

  it('asks plain HTTP while the HTTPS probe is still out, so a plain registry costs no extra round trip', async () => {
    const inner = heldSend();
    const discovery = new Schemer(inner.send, { host: 'plain', tlsVerify: false }, fresh()).discover('x');
    await Promise.resolve();
    expect(inner.seen.map((request) => request.url)).toEqual(['https://plain/v2/', 'http://plain/v2/']);
    inner.answer('http:', { status: 200 });
    inner.answer('https:', codedError('EPROTO', 'wrong version number'));
    expect(await discovery).toEqual({ origin: 'http://plain', challenge: undefined });
  });

  it('asks a named port in plain HTTP alone first: a plain registry there never gets a TLS probe', async () => {
    const inner = fakeSend(() => ({ status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } }));
    expect(await new Schemer(inner.send, { host: '10.0.2.2:5000', tlsVerify: false }, fresh()).discover('x')).toEqual({
      origin: 'http://10.0.2.2:5000',
      challenge: { scheme: 'basic', params: { realm: 'r' } },
    });
    expect(await new Schemer(inner.send, { host: '[fd00::1]:5000', tlsVerify: false }, fresh()).discover('x')).toMatchObject({ origin: 'http://[fd00::1]:5000' });
    expect(inner.seen.map((request) => [request.url, request.retryConnectionErrors])).toEqual([
      ['http://10.0.2.2:5000/v2/', false],
      ['http://[fd00::1]:5000/v2/', false],
    ]);
  });

  it('takes HTTPS on a named port that answers plain HTTP with 400 (a TLS server), one round trip later', async () => {
    const inner = fakeSend((request) => (request.url.startsWith('https:') ? { status: 200 } : { status: 400 }));
    expect(await new Schemer(inner.send, { host: 'tls:5000', tlsVerify: false }, fresh()).discover('x')).toEqual({ origin: 'https://tls:5000', challenge: undefined });
    expect(inner.seen.map((request) => request.url)).toEqual(['http://tls:5000/v2/', 'https://tls:5000/v2/', 'http://tls:5000/v2/']);
  });

  it('on a named port where nothing answers yet, probes as for any host: HTTPS once, plain HTTP with retries', async () => {
    const inner = fakeSend((request, index) => (index < 2 ? codedError('ECONNREFUSED') : request.url.startsWith('https:') ? codedError('ECONNREFUSED') : { status: 200 }));
    expect(await new Schemer(inner.send, { host: 'late:5000', tlsVerify: false }, fresh()).discover('x')).toEqual({ origin: 'http://late:5000', challenge: undefined });
    expect(inner.seen.map((request) => [request.url, request.retryConnectionErrors])).toEqual([
      ['http://late:5000/v2/', false],
      ['https://late:5000/v2/', false],
      ['http://late:5000/v2/', true],
    ]);
  });

  it('takes HTTPS whenever it answers, even after plain HTTP did', async () => {
    const inner = heldSend();
    const discovery = new Schemer(inner.send, { host: 'both', tlsVerify: false }, fresh()).discover('x');
    await Promise.resolve();
    inner.answer('http:', { status: 200 });
    await new Promise((resolve) => setImmediate(resolve));
    inner.answer('https:', { status: 200 });
    expect(await discovery).toEqual({ origin: 'https://both', challenge: undefined });
  });

  it('pings each registry once per cache, whichever transport asks; TLS settings are kept apart', async () => {
    const inner = fakeSend((request) => (request.url.startsWith('https:') ? codedError('ECONNRESET') : { status: 200 }));
    const cache = fresh();
    for (let boot = 0; boot < 3; boot++) expect((await new Schemer(inner.send, { host: 'gw', tlsVerify: false }, cache).discover('x')).origin).toBe('http://gw');
    expect(inner.seen).toHaveLength(2);
    await expect(new Schemer(inner.send, { host: 'gw', tlsVerify: true }, cache).discover('x')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(inner.seen).toHaveLength(3);
  });
});
