import { describe, expect, it } from 'vitest';
import { parseCredentials } from '../../../../src/oci/auth.ts';
import { withAuth } from '../../../../src/oci/transport/auth.ts';
import type { Discovery } from '../../../../src/oci/transport/schemer.ts';
import { fakeSend, GET } from './fake-send.ts';

const peer = { host: 'reg.example', tlsVerify: true };
const ORIGIN = 'https://reg.example';
const bearer: Discovery = { origin: ORIGIN, challenge: { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg' } } };
const discover = (discovery: Discovery) => async (): Promise<Discovery> => discovery;
const creds = parseCredentials('bob:pw');
const BASIC = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
const scoped = (url: string): ReturnType<typeof GET> => GET(url, { scope: 'repository:a:pull' });

describe('auth layer', () => {
  it('gets a bearer token with the credentials, once per scope, and sends it only to the registry origin', async () => {
    const inner = fakeSend((request) => (request.url.startsWith('https://auth.example/') ? { status: 200, body: '{"token":"T1","expires_in":300}' } : { status: 200 }));
    const send = withAuth(inner.send, peer, { discover: discover(bearer), credentials: creds });
    await send(scoped(`${ORIGIN}/v2/a/manifests/v1`));
    await send(scoped(`${ORIGIN}/v2/a/blobs/x`));
    await send(scoped('https://elsewhere.example/blob'));
    await send(GET(`${ORIGIN}/v2/unscoped`));
    expect(inner.seen.map((request) => [request.url, request.headers.authorization])).toEqual([
      ['https://auth.example/token?service=reg&scope=repository%3Aa%3Apull', BASIC],
      [`${ORIGIN}/v2/a/manifests/v1`, 'Bearer T1'],
      [`${ORIGIN}/v2/a/blobs/x`, 'Bearer T1'],
      ['https://elsewhere.example/blob', undefined],
      [`${ORIGIN}/v2/unscoped`, undefined],
    ]);
  });

  it('asks again when the token has expired', async () => {
    let clock = 1_000_000;
    let issued = 0;
    const inner = fakeSend((request) => (request.url.startsWith('https://auth.example/') ? { status: 200, body: `{"token":"T${++issued}","expires_in":60}` } : { status: 200 }));
    const send = withAuth(inner.send, peer, { discover: discover(bearer), now: () => clock });
    await send(scoped(`${ORIGIN}/v2/a/x`));
    clock += 56_000;
    await send(scoped(`${ORIGIN}/v2/a/x`));
    expect(inner.seen.filter((request) => request.url.startsWith(ORIGIN)).map((request) => request.headers.authorization)).toEqual(['Bearer T1', 'Bearer T2']);
  });

  it("on a 401, refreshes the token once with the scopes the registry names, then returns what comes", async () => {
    let registryCalls = 0;
    const inner = fakeSend((request) => {
      if (request.url.startsWith('https://auth.example/')) return { status: 200, body: `{"token":"T${request.url.includes('push') ? 'wide' : 'narrow'}"}` };
      registryCalls++;
      return { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull,push"' } };
    });
    const response = await withAuth(inner.send, peer, { discover: discover(bearer) })(scoped(`${ORIGIN}/v2/a/x`));
    expect(response.status).toBe(401);
    expect(registryCalls).toBe(2);
    expect(inner.seen.filter((request) => request.url.startsWith(ORIGIN)).map((request) => request.headers.authorization)).toEqual(['Bearer Tnarrow', 'Bearer Twide']);
  });

  it('uses Basic when that is the challenge, nothing without credentials', async () => {
    const basic: Discovery = { origin: ORIGIN, challenge: { scheme: 'basic', params: {} } };
    const inner = fakeSend(() => ({ status: 200 }));
    await withAuth(inner.send, peer, { discover: discover(basic), credentials: creds })(scoped(`${ORIGIN}/v2/a/x`));
    await withAuth(inner.send, peer, { discover: discover(basic) })(scoped(`${ORIGIN}/v2/a/x`));
    expect(inner.seen.map((request) => request.headers.authorization)).toEqual([BASIC, undefined]);
  });

  it('refuses credentials to a plain-HTTP realm while TLS is verified, and names a refusing token server', async () => {
    const http: Discovery = { origin: ORIGIN, challenge: { scheme: 'bearer', params: { realm: 'http://auth.example/token' } } };
    const inner = fakeSend(() => ({ status: 403, body: '{"errors":[{"code":"DENIED","message":"no"}]}' }));
    await expect(withAuth(inner.send, peer, { discover: discover(http), credentials: creds })(scoped(`${ORIGIN}/v2/a/x`))).rejects.toThrow('over plain HTTP; refused');
    expect(inner.seen).toHaveLength(0);
    await expect(withAuth(inner.send, peer, { discover: discover(bearer) })(scoped(`${ORIGIN}/v2/a/x`))).rejects.toMatchObject({
      message: 'token server https://auth.example refused a token for repository:a:pull (HTTP 403) (DENIED: no)',
      status: 403,
      codes: ['DENIED'],
    });
  });
});
