import { parseChallenges, type Challenge } from '../auth.ts';
import type { RegistryPeer, Send } from './types.ts';

/** What the `/v2/` ping taught: where the registry answers, and how it wants to be authenticated. */
export interface Discovery {
  origin: string;
  /** Bearer preferred over Basic; undefined when the registry asked for nothing. */
  challenge: Challenge | undefined;
}

/** Discoveries by `host|tlsVerify`: registries answer on one scheme for the life of a boot. */
export type DiscoveryCache = Map<string, Discovery>;

/** Shared by every transport of the process (a boot, a CLI command), so each registry is pinged once. */
export const processDiscoveries: DiscoveryCache = new Map();

/** `host:port` or `[v6]:port`: both schemes would reach the same port. */
function hasExplicitPort(host: string): boolean {
  return /^(\[[^\]]+\]|[^:]+):\d+$/.test(host);
}

/**
 * Scheme discovery: pings `https://host/v2/`, and, when TLS is not verified, `http://host/v2/` at the
 * same time, so that a plain-HTTP registry costs no round trip more than the HTTPS probe's own; HTTPS
 * wins whenever it answers. When TLS is not verified and the host names its port, that one port
 * speaks one protocol: plain HTTP is asked alone first, and a registry answering it is used without
 * ever loading TLS (~0.2 s of a DUT's CPU under TCG); a TLS port answers a plain request with 400
 * (Go's and nginx's servers) or not at all, and the race above follows, one round trip later.
 * Once per registry and cache; a failed discovery is forgotten so that the next request tries again.
 */
export class Schemer {
  readonly #inner: Send;
  readonly #peer: RegistryPeer;
  readonly #cache: DiscoveryCache;
  #discovery: Promise<Discovery> | undefined;

  constructor(inner: Send, peer: RegistryPeer, cache: DiscoveryCache = processDiscoveries) {
    this.#inner = inner;
    this.#peer = peer;
    this.#cache = cache;
  }

  discover(what: string): Promise<Discovery> {
    const key = `${this.#peer.host}|${this.#peer.tlsVerify}`;
    const known = this.#cache.get(key);
    if (known !== undefined) return Promise.resolve(known);
    this.#discovery ??= this.#ping(what).then(
      (discovery) => {
        this.#cache.set(key, discovery);
        return discovery;
      },
      (error: unknown) => {
        this.#discovery = undefined;
        throw error;
      },
    );
    return this.#discovery;
  }

  async #ping(what: string): Promise<Discovery> {
    const { host, tlsVerify } = this.#peer;
    if (tlsVerify) return (await this.#pingOrigin(`https://${host}`, what, true)).discovery;
    if (hasExplicitPort(host)) {
      const plain = await this.#pingOrigin(`http://${host}`, what, false).catch(() => undefined);
      if (plain !== undefined && plain.status !== 400) return plain.discovery;
    }
    // A connection error on HTTPS when HTTP may follow is an answer, not something to retry.
    const secure = this.#pingOrigin(`https://${host}`, what, false);
    const plain = this.#pingOrigin(`http://${host}`, what, true);
    plain.catch(() => undefined); // awaited below only when HTTPS failed
    try {
      return (await secure).discovery;
    } catch {
      return (await plain).discovery;
    }
  }

  async #pingOrigin(origin: string, what: string, retryConnectionErrors: boolean): Promise<{ discovery: Discovery; status: number }> {
    const response = await this.#inner({ method: 'GET', url: `${origin}/v2/`, headers: {}, what, retryConnectionErrors });
    await response.body.dump();
    const { status } = response;
    if (status !== 401) return { discovery: { origin, challenge: undefined }, status }; // some registries answer 404 on /v2/ yet serve images
    const challenges = parseChallenges(response.headers['www-authenticate'] ?? '');
    return { discovery: { origin, challenge: challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') }, status };
  }
}

/** The outermost layer: a request's path (or a URL the registry handed out) resolved against the discovered origin. */
export function withScheme(inner: Send, schemer: Schemer): Send {
  return async (request) => {
    const { origin } = await schemer.discover(request.what);
    return inner({ ...request, url: new URL(request.url, origin).toString() });
  };
}
