import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { OcinitError, describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { Secret } from '../log/secret.ts';
import { request, type Dispatcher } from '../oci/http-client.ts';
import { MAX_REDIRECTS, REDIRECTS } from '../oci/transport/redirect.ts';
import type { ProxyConfig } from './proxy-config.ts';
import { extraArgsDispatcher } from './proxy.ts';
import { displayUrl } from './url.ts';

const PARAMETER = 'b2c.extra_args_url';
const DEFAULT_ATTEMPTS = 4;
const DEFAULT_TIMEOUT_MS = 10_000;
/** Extra arguments are a command line: anything bigger is not what the operator meant to serve. */
const MAX_BYTES = 1 << 20;

export interface ExtraArgsOptions {
  log: Logger;
  /** b2c.proxy. */
  proxy?: ProxyConfig | undefined;
  attempts?: number | undefined;
  /** Per attempt. */
  timeoutMs?: number | undefined;
  /** Before retry n (1-based), wait n × this; default 1 s. */
  retryDelayMs?: number | undefined;
}

/** Status codes worth another try: the server or something in front of it may recover. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The request target without credentials, plus an Authorization header for them (fetch refuses URLs with credentials). */
function splitCredentials(url: URL): { target: string; headers: Record<string, string> } {
  if (url.username === '' && url.password === '') return { target: url.href, headers: {} };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (password !== '') new Secret(password);
  const target = new URL(url.href);
  target.username = '';
  target.password = '';
  return { target: target.href, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } };
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OcinitError(`${PARAMETER} is not a URL: ${displayUrl(text)}`, { parameter: PARAMETER, hint: 'write it as http(s)://HOST/PATH' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OcinitError(`${PARAMETER} must be http:// or https://, not ${url.protocol}`, { parameter: PARAMETER, url: displayUrl(text) });
  }
  return url;
}

type Attempt = { ok: true; text: string } | { ok: false; retry: boolean; reason: string };

// undici's own dispatcher and request(), as the registry client uses them, rather than its fetch():
// fetch() comes with undici's index (WebSocket, the caches, the mock agents...), about 1 MB of
// code that the launcher would otherwise evaluate with the network module, before DHCP starts.

/** GET, following redirects; Authorization goes only to the URL's own origin, as fetch() does. */
async function get(target: string, headers: Record<string, string>, dispatcher: Dispatcher, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  const origin = new URL(target).origin;
  let current = target;
  for (let hop = 0; ; hop++) {
    const sent = new URL(current).origin === origin ? headers : {};
    const response = await request(current, { method: 'GET', headers: sent, dispatcher, signal });
    const location = response.headers.location;
    if (!REDIRECTS.has(response.statusCode) || typeof location !== 'string' || hop === MAX_REDIRECTS) return response;
    await response.body.dump();
    current = new URL(location, current).href;
  }
}

/** The body as text, or undefined once it passes MAX_BYTES. */
async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += bytes.length;
    if (size > MAX_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function attemptFetch(target: string, headers: Record<string, string>, options: ExtraArgsOptions): Promise<Attempt> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const response = await get(target, headers, extraArgsDispatcher(options.proxy), AbortSignal.timeout(timeoutMs));
    const status = response.statusCode;
    if (REDIRECTS.has(status)) {
      await response.body.dump();
      return { ok: false, retry: false, reason: `HTTP ${status}: more than ${MAX_REDIRECTS} redirects, or one without a Location` };
    }
    if (status < 200 || status > 299) {
      await response.body.dump();
      return { ok: false, retry: retryable(status), reason: `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim() };
    }
    const declared = Number(response.headers['content-length'] ?? '0');
    if (declared > MAX_BYTES) {
      response.body.destroy();
      return { ok: false, retry: false, reason: `${declared} bytes is more than a command line (limit ${MAX_BYTES})` };
    }
    const text = await readLimited(response.body);
    if (text === undefined) return { ok: false, retry: false, reason: `more than ${MAX_BYTES} bytes` };
    return { ok: true, text };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${describeError(error).split('\n')[0] ?? ''}${cause}`;
    return { ok: false, retry: true, reason };
  }
}

/**
 * Downloads the extra command line of `b2c.extra_args_url` once the network is up. Retries
 * network errors, timeouts and 5xx/408/429; a 404 or another 4xx fails at once. The text is not
 * logged (it may hold credentials): the command line parser redacts what it reads.
 */
export async function fetchExtraArgs(url: string, options: ExtraArgsOptions): Promise<string> {
  const parsed = parseUrl(url);
  const shown = displayUrl(url);
  const { target, headers } = splitCredentials(parsed);
  const attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
  const reasons: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep((attempt - 1) * (options.retryDelayMs ?? 1_000));
    const result = await attemptFetch(target, headers, options);
    if (result.ok) {
      options.log.info(`Extra arguments: ${Buffer.byteLength(result.text)} bytes from ${shown}`);
      return result.text;
    }
    reasons.push(result.reason);
    options.log.warn(`Extra arguments: attempt ${attempt}/${attempts} from ${shown} failed: ${result.reason}`);
    if (!result.retry) break;
  }
  throw new OcinitError(`cannot download the extra arguments: ${reasons.at(-1) ?? 'failed'} (${reasons.length} attempt${reasons.length === 1 ? '' : 's'})`, {
    parameter: PARAMETER,
    url: shown,
    hint: options.proxy === undefined ? 'check that the URL is served to this network' : 'check the URL and that b2c.proxy reaches it',
  });
}
