import { parseChallenges, type Challenge } from '../auth.ts';
import type { RegistryPeer, Send } from './types.ts';

/** What the `/v2/` ping taught: where the registry answers, and how it wants to be authenticated. */
export interface Discovery {
  origin: string;
  /** Bearer preferred over Basic; undefined when the registry asked for nothing. */
  challenge: Challenge | undefined;
}

/**
 * Scheme discovery: pings `https://host/v2/`, and, when TLS is not verified, `http://host/v2/` after
 * it. Once per registry; a failed discovery is forgotten so that the next request tries again.
 */
export class Schemer {
  readonly #inner: Send;
  readonly #peer: RegistryPeer;
  #discovery: Promise<Discovery> | undefined;

  constructor(inner: Send, peer: RegistryPeer) {
    this.#inner = inner;
    this.#peer = peer;
  }

  discover(what: string): Promise<Discovery> {
    this.#discovery ??= this.#ping(what).catch((error: unknown) => {
      this.#discovery = undefined;
      throw error;
    });
    return this.#discovery;
  }

  async #ping(what: string): Promise<Discovery> {
    const { host, tlsVerify } = this.#peer;
    const origins = tlsVerify ? [`https://${host}`] : [`https://${host}`, `http://${host}`];
    let lastError: unknown;
    for (const [index, origin] of origins.entries()) {
      try {
        // A connection error on HTTPS when HTTP may follow is an answer, not something to retry.
        const response = await this.#inner({ method: 'GET', url: `${origin}/v2/`, headers: {}, what, retryConnectionErrors: index === origins.length - 1 });
        await response.body.dump();
        if (response.status !== 401) return { origin, challenge: undefined }; // some registries answer 404 on /v2/ yet serve images
        const challenges = parseChallenges(response.headers['www-authenticate'] ?? '');
        return { origin, challenge: challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') };
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }
}

/** The outermost layer: a request's path (or a URL the registry handed out) resolved against the discovered origin. */
export function withScheme(inner: Send, schemer: Schemer): Send {
  return async (request) => {
    const { origin } = await schemer.discover(request.what);
    return inner({ ...request, url: new URL(request.url, origin).toString() });
  };
}
