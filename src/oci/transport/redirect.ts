import { OcinitError } from '../../log/errors.ts';
import type { RegistryPeer, Send } from './types.ts';

/** Also the extra arguments' limits (src/net/extra-args.ts). */
export const MAX_REDIRECTS = 5;
export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * Follows redirects by hand, keeping the method and body (307/308 semantics, as registries expect),
 * so that `Authorization` only ever goes to the origin it was meant for, and HTTPS never becomes
 * plain HTTP while TLS is verified.
 */
export function withRedirects(inner: Send, peer: RegistryPeer): Send {
  return async (request) => {
    const origin = new URL(request.url).origin;
    let current = request.url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers = { ...request.headers };
      if (new URL(current).origin !== origin) delete headers.authorization;
      const response = await inner({ ...request, url: current, headers });
      if (!REDIRECTS.has(response.status)) return response;
      await response.body.dump();
      const location = response.headers.location;
      if (location === undefined) throw new OcinitError(`registry ${peer.host} redirected without a Location while ${request.what}`, { url: current });
      current = new URL(location, current).toString();
      if (peer.tlsVerify && new URL(current).protocol !== 'https:') {
        throw new OcinitError(`registry ${peer.host} redirected to plain HTTP while ${request.what}; refused`, { url: new URL(current).origin, hint: 'use --tls-verify=false only if you trust this network' });
      }
    }
    throw new OcinitError(`registry ${peer.host} redirected more than ${MAX_REDIRECTS} times while ${request.what}`, { url: request.url });
  };
}
