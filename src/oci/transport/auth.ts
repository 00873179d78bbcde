import { OcinitError } from '../../log/errors.ts';
import { Secret } from '../../log/secret.ts';
import { basicAuthorization, parseChallenges, type Challenge, type Credentials } from '../auth.ts';
import { describeDiagnostics, registryErrors, RegistryError } from './errors.ts';
import type { Discovery } from './schemer.ts';
import type { RegistryPeer, Send, TransportRequest } from './types.ts';

interface Token {
  value: Secret;
  expiresAt: number;
}

export interface AuthOptions {
  discover: (what: string) => Promise<Discovery>;
  credentials?: Credentials | undefined;
  now?: () => number;
}

/**
 * Bearer tokens from the registry's challenge (one per scope, cached until shortly before they
 * expire, refreshed once on a 401) or HTTP Basic. Only requests with a scope, to the registry's own
 * origin, get an `Authorization`; credentials go nowhere else but the token realm it names.
 */
export function withAuth(inner: Send, peer: RegistryPeer, options: AuthOptions): Send {
  const tokens = new Map<string, Token>();
  const now = options.now ?? Date.now;
  const { credentials } = options;

  async function authenticate(challenge: Challenge, scope: string, what: string, afterRefusal: boolean): Promise<Secret | undefined> {
    if (challenge.scheme === 'basic') return credentials === undefined ? undefined : basicAuthorization(credentials);
    if (challenge.scheme !== 'bearer') return undefined;
    const realm = challenge.params.realm;
    if (realm === undefined) throw new OcinitError(`registry ${peer.host} asked for a bearer token without saying where to get it (no realm)`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new OcinitError(`registry ${peer.host} gave an invalid token realm '${realm}'`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OcinitError(`registry ${peer.host} gave a token realm that is not HTTP(S): ${url.origin}`);
    if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
    const scopes = new Set([scope, ...(afterRefusal && challenge.params.scope !== undefined ? challenge.params.scope.split(' ') : [])]);
    for (const item of scopes) if (item !== '') url.searchParams.append('scope', item);
    const headers: Record<string, string> = {};
    if (credentials !== undefined) {
      if (url.protocol === 'http:' && peer.tlsVerify) {
        throw new OcinitError(`registry ${peer.host} wants the credentials sent to ${url.origin} over plain HTTP; refused`, { hint: 'use --tls-verify=false only if you trust this network' });
      }
      headers.authorization = basicAuthorization(credentials).reveal();
    }
    const response = await inner({ method: 'GET', url: url.toString(), headers, what });
    if (response.status !== 200) {
      const errors = await registryErrors(response.body);
      throw new RegistryError(`token server ${url.origin} refused a token for ${[...scopes].join(' ')} (HTTP ${response.status})${describeDiagnostics(errors)}`, {
        status: response.status,
        errors,
        url: `${url.origin}${url.pathname}`,
        hint: credentials === undefined ? 'pass --creds USER:PASSWORD or --authfile if this repository is private' : 'check the username and password',
      });
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      body = JSON.parse((await response.body.text()).slice(0, 1 << 20)) as typeof body;
    } catch {
      throw new OcinitError(`token server ${url.origin} answered something that is not JSON`);
    }
    const value = typeof body.token === 'string' && body.token !== '' ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (value === '') throw new OcinitError(`token server ${url.origin} answered without a token`);
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    const issued = typeof body.issued_at === 'string' && Number.isFinite(Date.parse(body.issued_at)) ? Math.min(Date.parse(body.issued_at), now()) : now();
    const token: Token = { value: new Secret(`Bearer ${value}`), expiresAt: issued + lifetime * 1000 - 5_000 };
    tokens.set(scope, token);
    return token.value;
  }

  async function authorization(challenge: Challenge | undefined, scope: string, what: string): Promise<Secret | undefined> {
    const token = tokens.get(scope);
    if (token !== undefined && token.expiresAt > now()) return token.value;
    return challenge === undefined ? undefined : authenticate(challenge, scope, what, false);
  }

  async function authorized(request: TransportRequest, scope: string): Promise<TransportRequest> {
    const { origin, challenge } = await options.discover(request.what);
    if (new URL(request.url).origin !== origin) return request;
    const value = await authorization(challenge, scope, request.what);
    return value === undefined ? request : { ...request, headers: { ...request.headers, authorization: value.reveal() } };
  }

  return async (request) => {
    const { scope } = request;
    if (scope === undefined) return inner(request);
    const response = await inner(await authorized(request, scope));
    if (response.status !== 401) return response;
    // Refused: the token may have expired early or lack a scope the registry names; once more.
    const challenge = parseChallenges(response.headers['www-authenticate'] ?? '')[0];
    await response.body.dump();
    tokens.delete(scope);
    if (challenge !== undefined) await authenticate(challenge, scope, request.what, true);
    return inner(await authorized(request, scope));
  };
}
