// b2c.proxy, typed: which proxy each scheme of URL goes through. A leaf module (it imports nothing)
// so that every HTTP client takes the same form: the command line parser makes it, the registry
// client and its mirrors (src/oci), the extra arguments fetch (src/net) and the S3 client (src/s3)
// route by it through createDispatcher (src/oci/http-client.ts).

export interface ProxyConfig {
  /** The proxy for http:// URLs; undefined: they go direct. */
  readonly http: string | undefined;
  /** The proxy for https:// URLs (tunnelled with CONNECT); undefined: they go direct. */
  readonly https: string | undefined;
}

/** `b2c.proxy=URL`, `ocinit pull --proxy URL`: one proxy for every scheme. */
export function proxyForEveryScheme(url: string): ProxyConfig {
  return { http: url, https: url };
}

/** The proxy a request to a URL with this protocol (`http:`, `https:`) goes through, if any. */
export function proxyForProtocol(config: ProxyConfig | undefined, protocol: string): string | undefined {
  if (protocol === 'http:') return config?.http;
  if (protocol === 'https:') return config?.https;
  return undefined;
}

/** For the plan and logs: `https via URL, http direct`. */
export function describeProxy(config: ProxyConfig | undefined): string {
  if (config === undefined || (config.http === undefined && config.https === undefined)) return 'none';
  if (config.http === config.https) return `${config.http ?? ''} for http and https`;
  return (['https', 'http'] as const).map((scheme) => `${scheme} ${config[scheme] === undefined ? 'direct' : `via ${config[scheme] ?? ''}`}`).join(', ');
}
