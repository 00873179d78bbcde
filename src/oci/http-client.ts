// The parts of undici the registry client uses, loaded on their own. undici's index also evaluates
// fetch, WebSocket, EventSource, the mock agents and the cache stores when it loads: the CLI bundle
// was 1.1 MB instead of 0.75 MB, and started 15 ms later with 4.5 MB more RSS, for code a pull
// never runs.
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { OcinitError } from '../log/errors.ts';
import { proxyForProtocol, type ProxyConfig } from '../net/proxy-config.ts';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import ProxyAgentClass from 'undici/lib/dispatcher/proxy-agent.js';
import dispatcherApi from 'undici/lib/api/index.js';

// What undici's index does: request(), connect() (which ProxyAgent's tunnels use)... become
// methods of every dispatcher.
Object.assign(DispatcherClass.prototype, dispatcherApi);

export const Agent = AgentClass;
export const ProxyAgent = ProxyAgentClass;
export type { Dispatcher };

/** `undici.request` through an explicit dispatcher (undici's index adds a global one). */
export function request(url: string, options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher }): Promise<Dispatcher.ResponseData> {
  const { origin, pathname, search } = new URL(url);
  const { dispatcher, ...rest } = options;
  return dispatcher.request({ ...rest, origin, path: `${pathname}${search}` });
}

export interface DispatcherOptions {
  /** false: certificates are not checked. */
  tlsVerify: boolean;
  /** A CA bundle to trust besides the system's. */
  caFile?: string | undefined;
  /** b2c.proxy: each request goes through the proxy of its URL's scheme, or direct. */
  proxy?: ProxyConfig | undefined;
  /** No connection, response headers or body bytes for this long fails the request. */
  timeoutMs: number;
  /** Connections open to one origin at once (default: no limit); more requests queue. */
  connections?: number | undefined;
}

/** The dispatcher every HTTP client of ocinit uses (registries, S3): one set of TLS, proxy and timeout rules. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = readFileSync(options.caFile, 'utf8');
    } catch (error) {
      throw new OcinitError(`cannot read CA bundle ${options.caFile}: ${(error as Error).message}`);
    }
  }
  // Certificates that are not checked need no trust store: an empty CA list spares Node parsing its
  // ~150 root certificates for the HTTPS probe of a --tls-verify=false registry (measured under
  // qemu-user: the secure context in 45 instead of 70 ms).
  const trusted = ca ?? (options.tlsVerify ? undefined : []);
  const tls = { rejectUnauthorized: options.tlsVerify, ...(trusted === undefined ? {} : { ca: trusted }) };
  // HTTP/1.1 only: undici 8 offers h2 by default, and its HTTP/2 client needs node:http2, which
  // the bundles leave out (build.mjs). Layers download over parallel connections instead.
  const common = { allowH2: false, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, ...(options.connections === undefined ? {} : { connections: options.connections }) };
  const { proxy } = options;
  const agents = new Map<string | undefined, Dispatcher>();
  const agentFor = (uri: string | undefined): Dispatcher => {
    let agent = agents.get(uri);
    if (agent === undefined) {
      agent = uri === undefined ? new Agent({ connect: { ...tls, timeout: options.timeoutMs }, ...common }) : new ProxyAgent({ uri, requestTls: tls, ...common });
      agents.set(uri, agent);
    }
    return agent;
  };
  const http = agentFor(proxyForProtocol(proxy, 'http:'));
  const https = agentFor(proxyForProtocol(proxy, 'https:'));
  return http === https ? http : new SchemeDispatcher(http, https);
}

/** b2c.proxy's per-scheme form (`https=URL`): each request goes to the dispatcher of its origin's scheme. */
class SchemeDispatcher extends DispatcherClass {
  readonly #http: Dispatcher;
  readonly #https: Dispatcher;

  constructor(http: Dispatcher, https: Dispatcher) {
    super();
    this.#http = http;
    this.#https = https;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = options.origin === undefined ? '' : String(options.origin);
    return (origin.startsWith('http:') ? this.#http : this.#https).dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([this.#http.close(), this.#https.close()]).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
    const error = typeof first === 'function' || first === undefined ? null : first;
    const callback = typeof first === 'function' ? first : second;
    const done = Promise.all([this.#http.destroy(error), this.#https.destroy(error)]).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
  }
}

/** Failures worth another attempt: the connection, not the server's answer. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    (code.startsWith('UND_ERR') || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND'].includes(code))
  );
}

/** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
