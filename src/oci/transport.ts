import { createDispatcher, type Dispatcher } from './http-client.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Credentials } from './auth.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';
import { withAuth } from './transport/auth.ts';
import { statusError, withErrorMapping } from './transport/errors.ts';
import { withRedirects } from './transport/redirect.ts';
import { withRetries } from './transport/retry.ts';
import { Schemer, withScheme } from './transport/schemer.ts';
import { dispatcherSend } from './transport/send.ts';
import type { HttpMethod, RegistryPeer, RegistryResponse, Send } from './transport/types.ts';

export { RegistryError, RegistryUnreachableError, parseRegistryErrors, type RegistryDiagnostic } from './transport/errors.ts';
export { backoffMs, retryAfterMs } from './transport/retry.ts';
export type { HttpMethod, RegistryResponse } from './transport/types.ts';

export interface TransportOptions {
  /** `host[:port]` of the registry API. */
  host: string;
  /** false: plain HTTP allowed (tried when HTTPS fails) and certificates not checked. */
  tlsVerify?: boolean;
  caFile?: string;
  /** b2c.proxy. */
  proxy?: ProxyConfig | undefined;
  credentials?: Credentials;
  log?: Logger;
  signal?: AbortSignal;
  /** No response headers, or no body bytes, for this long fails the request (default 30 s). */
  timeoutMs?: number;
  /** Attempts for connection errors, 5xx and 429 (default 5); the delay doubles from retryDelayMs. */
  attempts?: number;
  retryDelayMs?: number;
  /** Connections open to this host at once (default 4): the rest of the requests queue. */
  connections?: number;
  /** Jitter source, 0 ≤ x < 1 (tests make it fixed). */
  random?: () => number;
  /** The innermost layer (default: undici through a dispatcher with the TLS, proxy and connection rules above). */
  send?: Send;
}

/** Three blob downloads and a manifest or token request at once, per host. */
const DEFAULT_CONNECTIONS = 4;

/**
 * One registry's HTTP side, composed of layers around one send function, outermost first:
 *
 *   scheme (/v2/ ping) → auth (bearer | basic) → error mapping → retry → redirects → send (undici)
 *
 * Each layer is a `Send` wrapping a `Send` (see ./transport/): this class only wires them and keeps
 * the dispatcher's lifetime.
 */
export class RegistryTransport {
  readonly host: string;
  readonly log: Logger | undefined;
  readonly #tlsVerify: boolean;
  readonly #hasCredentials: boolean;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #signal: AbortSignal | undefined;
  /** Every layer but the scheme and auth: what requests outside the registry's API go through. */
  readonly #plain: Send;
  readonly #registry: Send;
  #destroyed = false;

  constructor(options: TransportOptions) {
    this.host = options.host;
    this.log = options.log;
    this.#tlsVerify = options.tlsVerify ?? true;
    this.#hasCredentials = options.credentials !== undefined;
    this.#signal = options.signal;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const peer: RegistryPeer = { host: this.host, tlsVerify: this.#tlsVerify, log: this.log };
    const cancelled = (): boolean => this.cancelled;
    let send = options.send;
    if (send === undefined) {
      this.#dispatcher = createDispatcher({ tlsVerify: this.#tlsVerify, caFile: options.caFile, proxy: options.proxy, timeoutMs, connections: options.connections ?? DEFAULT_CONNECTIONS });
      send = dispatcherSend(this.#dispatcher, this.#signal);
    }
    const retried = withRetries(withRedirects(send, peer), peer, {
      attempts: options.attempts ?? 5,
      retryDelayMs: options.retryDelayMs ?? 250,
      random: options.random ?? Math.random,
      signal: this.#signal,
      cancelled,
    });
    this.#plain = withErrorMapping(retried, { ...peer, timeoutMs, cancelled });
    const schemer = new Schemer(this.#plain, peer);
    this.#registry = withScheme(withAuth(this.#plain, peer, { discover: (what) => schemer.discover(what), credentials: options.credentials }), schemer);
  }

  /** True once the caller's AbortSignal fired, or destroy() cut off what was in flight. */
  get cancelled(): boolean {
    return this.#destroyed || this.#signal?.aborted === true;
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  /** Aborts whatever is still in flight; nothing is retried after. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await this.#dispatcher?.destroy();
  }

  /**
   * GET `path` (below `/v2/`) with auth for `scope`. Returns any final response (the caller judges the
   * status); throws an OcinitError naming the registry and `what` for network failures after retries.
   */
  async get(path: string, options: { scope: string; what: string; headers?: Record<string, string> }): Promise<RegistryResponse> {
    return this.send('GET', path, options);
  }

  /**
   * Like get, with any method and an optional body (pushes: `ocinit sign`). `target` is a path below
   * `/v2/` or a URL the registry handed out (an upload's Location), resolved against its origin.
   */
  async send(method: HttpMethod, target: string, options: { scope: string; what: string; headers?: Record<string, string>; body?: Buffer }): Promise<RegistryResponse> {
    return this.#registry({ method, url: target, headers: options.headers ?? {}, body: options.body, what: options.what, scope: options.scope });
  }

  /** Throws the right RegistryError for an unexpected status; the body is consumed. */
  async fail(response: RegistryResponse, what: string, context: { image?: string; blob?: string } = {}): Promise<never> {
    throw await statusError(response, this.host, what, { ...context, hasCredentials: this.#hasCredentials });
  }

  /**
   * GET a URL outside the registry (a foreign layer's `urls`), never with credentials: HTTPS only
   * unless TLS verification is off for this registry.
   */
  async external(url: string, what: string, offset: number): Promise<RegistryResponse> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OcinitError(`invalid layer URL while ${what}`, { hint: 'the manifest lists a malformed URL for a foreign layer' });
    }
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && !this.#tlsVerify)) {
      throw new OcinitError(`refusing ${parsed.protocol} layer URL ${parsed.origin} while ${what}`, { url: parsed.origin, hint: 'foreign layers are fetched over HTTPS only (or any HTTP with --tls-verify=false)' });
    }
    return this.#plain({ method: 'GET', url: parsed.toString(), headers: blobHeaders(offset), what });
  }

  /** Opens a blob download with optional resume offset (HTTP Range) and identity encoding. */
  async blob(path: string, scope: string, what: string, offset: number): Promise<RegistryResponse> {
    return this.get(path, { scope, what, headers: blobHeaders(offset) });
  }
}

function blobHeaders(offset: number): Record<string, string> {
  return { 'accept-encoding': 'identity', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) };
}
