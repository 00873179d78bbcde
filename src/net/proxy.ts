import { createDispatcher, type Dispatcher } from '../oci/http-client.ts';
import type { ProxyConfig } from './proxy-config.ts';

const cache = new Map<string, Dispatcher>();
/** Longer than the extra arguments' own per-attempt timeout (an abort signal): the dispatcher must not cut in first. */
const TIMEOUT_MS = 30_000;

/**
 * The undici dispatcher for HTTP outside the registry client (the extra arguments), one per
 * `b2c.proxy` setting: each request goes through its scheme's proxy (HTTPS with CONNECT) or
 * direct. Credentials in a proxy URL (`http://user:pass@proxy:3128`) become Proxy-Authorization;
 * the parser registered them as secrets, so they stay out of the log.
 */
export function extraArgsDispatcher(proxy: ProxyConfig | undefined): Dispatcher {
  const key = JSON.stringify([proxy?.http, proxy?.https]);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const dispatcher = createDispatcher({ tlsVerify: true, proxy, timeoutMs: TIMEOUT_MS });
  cache.set(key, dispatcher);
  return dispatcher;
}
