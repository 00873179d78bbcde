import { ProxyAgent, type Dispatcher } from '../oci/http-client.ts';
import { OcinitError } from '../log/errors.ts';
import { Secret } from '../log/secret.ts';
import { displayUrl } from './url.ts';

const cache = new Map<string, Dispatcher>();

/**
 * The undici dispatcher for `b2c.proxy` (registry traffic and extra arguments), undefined without
 * a proxy. HTTPS goes through CONNECT; plain HTTP is forwarded. Credentials in the proxy URL
 * (`http://user:pass@proxy:3128`) become Proxy-Authorization and are kept out of the log.
 */
export function proxyDispatcher(proxy: string | undefined): Dispatcher | undefined {
  if (proxy === undefined || proxy === '') return undefined;
  const cached = cache.get(proxy);
  if (cached !== undefined) return cached;
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new OcinitError(`b2c.proxy is not a URL: ${displayUrl(proxy)}`, { parameter: 'b2c.proxy', hint: 'write it as http://HOST:PORT' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OcinitError(`b2c.proxy must be an http:// or https:// URL, not ${url.protocol}`, { parameter: 'b2c.proxy' });
  }
  if (url.password !== '') new Secret(decodeURIComponent(url.password));
  const dispatcher = new ProxyAgent({ uri: proxy });
  cache.set(proxy, dispatcher);
  return dispatcher;
}
