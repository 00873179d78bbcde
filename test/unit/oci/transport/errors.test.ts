import { describe, expect, it } from 'vitest';
import { OcinitError } from '../../../../src/log/errors.ts';
import { RegistryError, RegistryUnreachableError, statusError, withErrorMapping } from '../../../../src/oci/transport/errors.ts';
import { bodyOf, codedError, fakeSend, GET } from './fake-send.ts';

const peer = { host: 'reg.example', tlsVerify: true, timeoutMs: 2000 };

describe('error layer', () => {
  it('names the registry and what it was doing for timeouts, TLS and connection failures', async () => {
    const cases: [Error, string, string][] = [
      [codedError('UND_ERR_HEADERS_TIMEOUT'), 'registry reg.example did not answer within 2 s while testing', 'raise the timeout'],
      [codedError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), 'cannot reach registry reg.example while testing: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)', '--ca-file'],
      [codedError('ECONNREFUSED', 'connect ECONNREFUSED'), 'cannot reach registry reg.example while testing: connect ECONNREFUSED (ECONNREFUSED)', 'the registry address'],
    ];
    for (const [thrown, message, hint] of cases) {
      const error = await withErrorMapping(fakeSend(() => thrown).send, { ...peer, cancelled: () => false })(GET('https://reg.example/x')).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RegistryUnreachableError);
      expect(error).toMatchObject({ message, cause: thrown });
      expect((error as OcinitError).hint).toContain(hint);
    }
  });

  it('passes OcinitErrors through and says "cancelled" when the caller cancelled', async () => {
    const own = new OcinitError('mine');
    await expect(withErrorMapping(fakeSend(() => own).send, { ...peer, cancelled: () => false })(GET('https://reg.example/x'))).rejects.toBe(own);
    await expect(withErrorMapping(fakeSend(() => codedError('UND_ERR_ABORTED')).send, { ...peer, cancelled: () => true })(GET('https://reg.example/x'))).rejects.toThrow('testing was cancelled');
  });

  it("turns an unexpected status into a RegistryError with the status and the registry's codes", async () => {
    const response = (status: number, body = ''): Parameters<typeof statusError>[0] => ({ status, headers: {}, body: bodyOf(body), url: 'https://reg.example/v2/a/manifests/v1' });
    const missing = await statusError(response(404, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'), 'reg.example', 'fetching manifest v1', { image: 'reg.example/a:v1', hasCredentials: false });
    expect(missing).toMatchObject({ message: 'registry reg.example has no such thing while fetching manifest v1 (HTTP 404) (MANIFEST_UNKNOWN: manifest unknown)', status: 404, codes: ['MANIFEST_UNKNOWN'], image: 'reg.example/a:v1' });
    expect(missing).not.toBeInstanceOf(RegistryUnreachableError);
    expect((await statusError(response(401), 'reg.example', 'x', { hasCredentials: false })).hint).toContain('--creds');
    expect((await statusError(response(401), 'reg.example', 'x', { hasCredentials: true })).hint).toBe('check the username and password');
    expect(await statusError(response(429), 'reg.example', 'x', { hasCredentials: false })).toBeInstanceOf(RegistryUnreachableError);
    expect(await statusError(response(418), 'reg.example', 'x', { hasCredentials: false })).toBeInstanceOf(RegistryError);
  });
});
