import { createDispatcher, isConnectionError, request, sleep, type Dispatcher } from './http-client.ts';
import { OcinitError, type ErrorContext } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { Secret } from '../log/secret.ts';
import { basicAuthorization, parseChallenges, type Challenge, type Credentials } from './auth.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';

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
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

/** One error of a registry's error body (distribution spec): `MANIFEST_UNKNOWN`, `DENIED`, `TOOMANYREQUESTS`... */
export interface RegistryDiagnostic {
  code: string;
  message: string;
}

/**
 * A registry (or a mirror) answered with an error, or could not be reached: what a caller decides on
 * (another source, a cached copy) is in the fields, never in the message.
 */
export class RegistryError extends OcinitError {
  /** The HTTP status; undefined when no answer came (network, timeout). */
  readonly status: number | undefined;
  readonly errors: readonly RegistryDiagnostic[];

  constructor(message: string, context: ErrorContext & { status?: number; errors?: readonly RegistryDiagnostic[] } = {}) {
    super(message, context);
    this.status = context.status;
    this.errors = context.errors ?? [];
  }

  /** The registry's error codes, e.g. `['MANIFEST_UNKNOWN']`. */
  get codes(): string[] {
    return this.errors.map((error) => error.code);
  }
}

/** The registry could not be reached or kept failing (network, timeout, 5xx, 429): a cached copy may do. */
export class RegistryUnreachableError extends RegistryError {}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT';

/** The method and body of a request; redirects keep them (307/308 semantics), as registries expect. */
interface OutgoingRequest {
  method: HttpMethod;
  body: Buffer | undefined;
}

const GET: OutgoingRequest = { method: 'GET', body: undefined };

interface Token {
  value: Secret;
  expiresAt: number;
}

const MAX_REDIRECTS = 5;
const MAX_RETRY_AFTER_MS = 60_000;
/** The longest pause between two attempts without a Retry-After. */
const MAX_BACKOFF_MS = 10_000;
/** Three blob downloads and a manifest or token request at once, per host. */
const DEFAULT_CONNECTIONS = 4;

/**
 * The pause before attempt `number + 1`: exponential from `firstMs`, capped, drawn uniformly from
 * its upper half, so that clients that failed together (a gateway restarting under a fleet) come
 * back spread out rather than in waves. A Retry-After is honoured as a floor, with up to a quarter
 * more on top for the same reason.
 */
export function backoffMs(number: number, firstMs: number, retryAfter: number | undefined, random: () => number): number {
  if (retryAfter !== undefined) return Math.round(retryAfter * (1 + random() / 4));
  const ceiling = Math.min(firstMs * 2 ** (number - 1), MAX_BACKOFF_MS);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function flatHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of Object.keys(headers)) result[name] = header(headers, name) ?? '';
  return result;
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** `Retry-After` in seconds or as an HTTP date, capped; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The registry's own errors from an error body (`{"errors":[{"code":"MANIFEST_UNKNOWN",...}]}`). */
export function parseRegistryErrors(text: string): RegistryDiagnostic[] {
  try {
    const parsed = JSON.parse(text.slice(0, 4096)) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors.flatMap((error: { code?: unknown; message?: unknown }) =>
      typeof error.code === 'string' ? [{ code: error.code, message: typeof error.message === 'string' ? error.message : '' }] : [],
    );
  } catch {
    return [];
  }
}

async function registryErrors(body: RegistryResponse['body']): Promise<RegistryDiagnostic[]> {
  try {
    return parseRegistryErrors(await body.text());
  } catch {
    return [];
  }
}

/** ` (MANIFEST_UNKNOWN: manifest unknown; ...)` for a message. */
function describeDiagnostics(errors: readonly RegistryDiagnostic[]): string {
  return errors.length === 0 ? '' : ` (${errors.map((error) => [error.code, error.message].filter(Boolean).join(': ')).join('; ')})`;
}

/**
 * One registry's HTTP side: scheme discovery (`/v2/` ping), bearer tokens from the challenge (with one
 * refresh on 401) or HTTP Basic, retries with backoff on connection errors / 5xx / 429, and redirects
 * followed without `Authorization` to any other origin. Credentials only ever go to the registry's own
 * origin and the token realm it names.
 */
export class RegistryTransport {
  readonly host: string;
  readonly #tlsVerify: boolean;
  readonly #dispatcher: Dispatcher;
  readonly #credentials: Credentials | undefined;
  readonly log: Logger | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly #random: () => number;
  #origin: Promise<{ origin: string; challenge: Challenge | undefined }> | undefined;
  #destroyed = false;
  readonly #tokens = new Map<string, Token>();

  constructor(options: TransportOptions) {
    this.host = options.host;
    this.#tlsVerify = options.tlsVerify ?? true;
    this.#credentials = options.credentials;
    this.log = options.log;
    this.#signal = options.signal;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#attempts = options.attempts ?? 5;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.#random = options.random ?? Math.random;
    this.#dispatcher = createDispatcher({
      tlsVerify: this.#tlsVerify,
      caFile: options.caFile,
      proxy: options.proxy,
      timeoutMs: this.#timeoutMs,
      connections: options.connections ?? DEFAULT_CONNECTIONS,
    });
  }

  /** True once the caller's AbortSignal fired, or destroy() cut off what was in flight. */
  get cancelled(): boolean {
    return this.#destroyed || this.#signal?.aborted === true;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  /** Aborts whatever is still in flight; nothing is retried after. */
  async destroy(): Promise<void> {
    this.#destroyed = true;
    await this.#dispatcher.destroy();
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
    const { origin } = await this.#discover(options.what);
    const url = new URL(target, origin).toString();
    const request: OutgoingRequest = { method, body: options.body };
    let refreshed = false;
    for (;;) {
      const response = await this.#withRetries(options.what, () => this.#follow(url, origin, options.scope, options.headers ?? {}, options.what, request));
      if (response.status === 401 && !refreshed) {
        refreshed = true;
        const challenge = parseChallenges(response.headers['www-authenticate'] ?? '')[0];
        await response.body.dump();
        this.#tokens.delete(options.scope);
        if (challenge !== undefined) await this.#authenticate(challenge, options.scope, options.what, true);
        continue;
      }
      return response;
    }
  }

  /** Throws the right OcinitError for an unexpected status; the body is consumed. */
  async fail(response: RegistryResponse, what: string, context: { image?: string; blob?: string } = {}): Promise<never> {
    const errors = await registryErrors(response.body);
    const detail = describeDiagnostics(errors);
    const { status, url } = response;
    const fields = { ...context, url, status, errors };
    if (status === 401) {
      throw new RegistryError(`registry ${this.host} refused the credentials while ${what} (HTTP 401)${detail}`, {
        ...fields,
        hint: this.#credentials === undefined ? 'this registry needs credentials: pass --creds USER:PASSWORD or --authfile' : 'check the username and password',
      });
    }
    if (status === 403) throw new RegistryError(`registry ${this.host} denied access while ${what} (HTTP 403)${detail}`, { ...fields, hint: 'check these credentials may pull this repository' });
    if (status === 404) throw new RegistryError(`registry ${this.host} has no such thing while ${what} (HTTP 404)${detail}`, { ...fields, hint: 'check the image name, tag or digest' });
    const ErrorClass = status >= 500 || status === 429 ? RegistryUnreachableError : RegistryError;
    throw new ErrorClass(`registry ${this.host} answered HTTP ${status} while ${what}${detail}`, fields);
  }

  #discover(what: string): Promise<{ origin: string; challenge: Challenge | undefined }> {
    this.#origin ??= this.#ping(what);
    return this.#origin;
  }

  async #ping(what: string): Promise<{ origin: string; challenge: Challenge | undefined }> {
    const origins = this.#tlsVerify ? [`https://${this.host}`] : [`https://${this.host}`, `http://${this.host}`];
    let lastError: unknown;
    for (const origin of origins) {
      try {
        const response = await this.#withRetries(what, () => this.#send(`${origin}/v2/`, {}), origin === origins[origins.length - 1]);
        await response.body.dump();
        if (response.status === 401) {
          const challenges = parseChallenges(response.headers['www-authenticate'] ?? '');
          const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
          return { origin, challenge };
        }
        if (response.status >= 200 && response.status < 300) return { origin, challenge: undefined };
        // Some registries answer 404 on /v2/ yet serve images: go on without auth.
        return { origin, challenge: undefined };
      } catch (error) {
        lastError = error;
      }
    }
    this.#origin = undefined;
    throw lastError;
  }

  async #authorization(scope: string, what: string): Promise<Secret | undefined> {
    const { challenge } = await this.#discover(what);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') return this.#credentials === undefined ? undefined : basicAuthorization(this.#credentials);
    const token = this.#tokens.get(scope);
    if (token !== undefined && token.expiresAt > Date.now()) return token.value;
    return this.#authenticate(challenge, scope, what, false);
  }

  /** The bearer-token flow: GET realm?service=...&scope=... (with Basic credentials when we have them). */
  async #authenticate(challenge: Challenge, scope: string, what: string, afterRefusal: boolean): Promise<Secret | undefined> {
    if (challenge.scheme === 'basic') return this.#credentials === undefined ? undefined : basicAuthorization(this.#credentials);
    if (challenge.scheme !== 'bearer') return undefined;
    const realm = challenge.params.realm;
    if (realm === undefined) throw new OcinitError(`registry ${this.host} asked for a bearer token without saying where to get it (no realm)`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new OcinitError(`registry ${this.host} gave an invalid token realm '${realm}'`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OcinitError(`registry ${this.host} gave a token realm that is not HTTP(S): ${url.origin}`);
    if (challenge.params.service !== undefined) url.searchParams.set('service', challenge.params.service);
    const scopes = new Set([scope, ...(afterRefusal && challenge.params.scope !== undefined ? challenge.params.scope.split(' ') : [])]);
    for (const item of scopes) if (item !== '') url.searchParams.append('scope', item);
    const headers: Record<string, string> = {};
    if (this.#credentials !== undefined) {
      if (url.protocol === 'http:' && this.#tlsVerify) {
        throw new OcinitError(`registry ${this.host} wants the credentials sent to ${url.origin} over plain HTTP; refused`, { hint: 'use --tls-verify=false only if you trust this network' });
      }
      headers.authorization = basicAuthorization(this.#credentials).reveal();
    }
    const response = await this.#withRetries(what, () => this.#send(url.toString(), headers));
    if (response.status !== 200) {
      const errors = await registryErrors(response.body);
      throw new RegistryError(`token server ${url.origin} refused a token for ${[...scopes].join(' ')} (HTTP ${response.status})${describeDiagnostics(errors)}`, {
        status: response.status,
        errors,
        url: `${url.origin}${url.pathname}`,
        hint: this.#credentials === undefined ? 'pass --creds USER:PASSWORD or --authfile if this repository is private' : 'check the username and password',
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
    const issued = typeof body.issued_at === 'string' && Number.isFinite(Date.parse(body.issued_at)) ? Math.min(Date.parse(body.issued_at), Date.now()) : Date.now();
    const token: Token = { value: new Secret(`Bearer ${value}`), expiresAt: issued + lifetime * 1000 - 5_000 };
    this.#tokens.set(scope, token);
    return token.value;
  }

  /** Follows redirects by hand so that `Authorization` only ever goes to the registry's origin. */
  async #follow(url: string, origin: string, scope: string, extra: Record<string, string>, what: string, outgoing: OutgoingRequest = GET): Promise<RegistryResponse> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { ...extra };
      if (new URL(current).origin === origin) {
        const authorization = await this.#authorization(scope, what);
        if (authorization !== undefined) headers.authorization = authorization.reveal();
      }
      const response = await this.#send(current, headers, outgoing);
      if (![301, 302, 303, 307, 308].includes(response.status)) return response;
      await response.body.dump();
      const location = response.headers.location;
      if (location === undefined) throw new OcinitError(`registry ${this.host} redirected without a Location while ${what}`, { url: current });
      current = new URL(location, current).toString();
      if (this.#tlsVerify && new URL(current).protocol !== 'https:') {
        throw new OcinitError(`registry ${this.host} redirected to plain HTTP while ${what}; refused`, { url: new URL(current).origin, hint: 'use --tls-verify=false only if you trust this network' });
      }
    }
    throw new OcinitError(`registry ${this.host} redirected more than ${MAX_REDIRECTS} times while ${what}`, { url });
  }

  async #send(url: string, headers: Record<string, string>, outgoing: OutgoingRequest = GET): Promise<RegistryResponse> {
    const response = await request(url, {
      method: outgoing.method,
      ...(outgoing.body === undefined ? {} : { body: outgoing.body }),
      headers: { 'user-agent': 'ocinit', ...headers },
      dispatcher: this.#dispatcher,
      signal: this.#signal,
    });
    return { status: response.statusCode, headers: flatHeaders(response.headers), body: response.body, url: url.split('?')[0] ?? url };
  }

  /** Retries connection errors, 5xx and 429 with exponential backoff (429/503 honour Retry-After). */
  async #withRetries(what: string, attempt: () => Promise<RegistryResponse>, retryConnectionErrors = true): Promise<RegistryResponse> {
    for (let number = 1; ; number++) {
      const last = number >= this.#attempts;
      let response: RegistryResponse;
      try {
        response = await attempt();
      } catch (error) {
        if (error instanceof OcinitError) throw error;
        if (this.cancelled) throw new OcinitError(`${what} was cancelled`, { cause: error });
        if (last || !retryConnectionErrors || !isConnectionError(error)) throw this.#networkError(error, what);
        const wait = backoffMs(number, this.#retryDelayMs, undefined, this.#random);
        this.log?.warn(`registry ${this.host}: ${(error as Error).message} while ${what}; retrying in ${wait} ms (attempt ${number + 1}/${this.#attempts})`);
        await sleep(wait, this.#signal);
        continue;
      }
      if (!last && (response.status === 429 || response.status >= 500)) {
        const wait = backoffMs(number, this.#retryDelayMs, retryAfterMs(response.headers['retry-after']), this.#random);
        await response.body.dump();
        this.log?.warn(`registry ${this.host}: HTTP ${response.status} while ${what}; retrying in ${wait} ms (attempt ${number + 1}/${this.#attempts})`);
        await sleep(wait, this.#signal);
        continue;
      }
      return response;
    }
  }

  #networkError(error: unknown, what: string): OcinitError {
    const message = (error as Error).message;
    if (isTimeout(error)) {
      return new RegistryUnreachableError(`registry ${this.host} did not answer within ${this.#timeoutMs / 1000} s while ${what}`, { cause: error, hint: 'check the network and the registry, or raise the timeout' });
    }
    const code = (error as { code?: unknown }).code;
    const tlsHint = typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|VERIFY|ISSUER|ALTNAME/.test(code) ? 'the certificate was not trusted: give --ca-file, or --tls-verify=false for a test registry' : undefined;
    return new RegistryUnreachableError(`cannot reach registry ${this.host} while ${what}: ${message}${typeof code === 'string' ? ` (${code})` : ''}`, {
      cause: error,
      hint: tlsHint ?? 'check the network, the registry address and, for a plain-HTTP registry, --tls-verify=false',
    });
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
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    // An origin that matches nothing: no Authorization on any hop.
    return this.#withRetries(what, () => this.#follow(parsed.toString(), '', '', headers, what));
  }

  /** Opens a blob download with optional resume offset (HTTP Range) and identity encoding. */
  async blob(path: string, scope: string, what: string, offset: number): Promise<RegistryResponse> {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    return this.get(path, { scope, what, headers });
  }
}
