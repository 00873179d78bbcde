import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcinitError } from '../../../src/log/errors.ts';
import { Logger } from '../../../src/log/logger.ts';
import { fetchExtraArgs } from '../../../src/net/index.ts';
import { proxyForEveryScheme } from '../../../src/net/proxy-config.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import { startTinyproxy, type Tinyproxy } from '../../support/tinyproxy.ts';

// b2c.extra_args_url against a real HTTP server on loopback, directly and through Debian's tinyproxy.

const ARGS = 'b2c.container="docker://registry.lab:5000/job:1 run" b2c.poweroff_delay=5\n';
const seen: IncomingMessage[] = [];
let flakyCalls = 0;
let server: Server;
let base: string;
let proxy: Tinyproxy;

function captureLog(): { log: Logger; text: () => string } {
  let text = '';
  return { log: new Logger({ sink: (chunk) => (text += chunk), color: false }), text: () => text };
}

async function failure(promise: Promise<unknown>): Promise<OcinitError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof OcinitError)) throw new Error(`expected an OcinitError, got ${String(error)}`);
  return error;
}

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request);
    switch (new URL(request.url ?? '/', 'http://x').pathname) {
      case '/args.txt':
        response.end(ARGS);
        return;
      case '/flaky.txt':
        flakyCalls += 1;
        response.statusCode = flakyCalls < 3 ? 503 : 200;
        response.end(flakyCalls < 3 ? 'busy' : ARGS);
        return;
      case '/private.txt':
        if (request.headers.authorization === `Basic ${Buffer.from('ci:hunter2-token').toString('base64')}`) response.end(ARGS);
        else {
          response.statusCode = 401;
          response.end();
        }
        return;
      case '/moved.txt':
        response.writeHead(302, { location: '/args.txt' }).end();
        return;
      case '/elsewhere.txt': // the same server under another origin
        response.writeHead(307, { location: base.replace('127.0.0.1', 'localhost') + '/private.txt' }).end();
        return;
      case '/loop.txt':
        response.writeHead(302, { location: '/loop.txt' }).end();
        return;
      case '/endless.txt': // chunked, so no content-length announces the size
        response.write('b2c.poweroff_delay=1 '.repeat(60_000));
        response.end();
        return;
      case '/silent.txt':
        return; // never answers
      default:
        response.statusCode = 404;
        response.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;

  proxy = await startTinyproxy();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await proxy.stop();
});

describe('fetchExtraArgs', () => {
  it('downloads the extra command line', async () => {
    const { log, text } = captureLog();
    expect(await fetchExtraArgs(`${base}/args.txt`, { log })).toBe(ARGS);
    expect(text()).toContain(`Extra arguments: ${ARGS.length} bytes from ${base}/args.txt`);
  });

  it('fails at once on a 404 and says which parameter and URL', async () => {
    const { log } = captureLog();
    const before = seen.length;
    const error = await failure(fetchExtraArgs(`${base}/missing.txt`, { log }));
    expect(seen.length - before).toBe(1);
    expect(error.describe()).toBe(
      `cannot download the extra arguments: HTTP 404 Not Found (1 attempt)\n  parameter: b2c.extra_args_url\n  url: ${base}/missing.txt\n  hint: check that the URL is served to this network`,
    );
  });

  it('retries a server that is busy', async () => {
    const { log, text } = captureLog();
    expect(await fetchExtraArgs(`${base}/flaky.txt`, { log, retryDelayMs: 10 })).toBe(ARGS);
    expect(flakyCalls).toBe(3);
    expect(text()).toContain('attempt 2/4 from');
  });

  it('gives up on a server that never answers after its attempts', async () => {
    const { log } = captureLog();
    const error = await failure(fetchExtraArgs(`${base}/silent.txt`, { log, attempts: 2, timeoutMs: 300, retryDelayMs: 10 }));
    expect(error.message).toBe('cannot download the extra arguments: no answer within 300 ms (2 attempts)');
  });

  it('sends credentials from the URL as Basic auth and never prints them', async () => {
    const { log, text } = captureLog();
    expect(await fetchExtraArgs(`http://ci:hunter2-token@${base.slice('http://'.length)}/private.txt?job=secretjob`, { log })).toBe(ARGS);
    expect(text()).not.toContain('hunter2-token');
    expect(text()).not.toContain('secretjob');
  });

  it('follows redirects, and sends the credentials to their own origin only', async () => {
    const { log } = captureLog();
    expect(await fetchExtraArgs(`${base}/moved.txt`, { log })).toBe(ARGS);
    const before = seen.length;
    const error = await failure(fetchExtraArgs(`http://ci:hunter2-token@${base.slice('http://'.length)}/elsewhere.txt`, { log }));
    expect(error.message).toBe('cannot download the extra arguments: HTTP 401 Unauthorized (1 attempt)');
    expect(seen.slice(before).map((request) => [request.headers.host?.split(':')[0], request.headers.authorization !== undefined])).toEqual([
      ['127.0.0.1', true],
      ['localhost', false],
    ]);
    const loop = await failure(fetchExtraArgs(`${base}/loop.txt`, { log }));
    expect(loop.message).toBe('cannot download the extra arguments: HTTP 302: more than 5 redirects, or one without a Location (1 attempt)');
  });

  it('refuses a body larger than any command line, even without a content-length', async () => {
    const { log } = captureLog();
    const error = await failure(fetchExtraArgs(`${base}/endless.txt`, { log }));
    expect(error.message).toBe('cannot download the extra arguments: more than 1048576 bytes (1 attempt)');
  });

  it('refuses URLs it cannot fetch, naming the parameter', async () => {
    const { log } = captureLog();
    expect((await failure(fetchExtraArgs('ftp://host/args', { log }))).parameter).toBe('b2c.extra_args_url');
    expect((await failure(fetchExtraArgs('not a url', { log }))).message).toBe('b2c.extra_args_url is not a URL: not a url');
  });

  it('goes through b2c.proxy', async () => {
    const { log } = captureLog();
    const before = seen.length;
    expect(await fetchExtraArgs(`${base}/args.txt`, { log, proxy: proxyForEveryScheme(proxy.url) })).toBe(ARGS);
    expect(seen.slice(before).map((request) => request.headers.via)).toEqual([expect.stringContaining('tinyproxy')]);
  });

  it("goes through b2c.proxy's per-scheme form for its own scheme only", async () => {
    const { log } = captureLog();
    const plan = (value: string) => parseCommandLine(`b2c.proxy="${value}"`, { env: {} }).plan.proxy;
    const before = seen.length;
    expect(await fetchExtraArgs(`${base}/args.txt`, { log, proxy: plan(`http=${proxy.url}`) })).toBe(ARGS);
    expect(await fetchExtraArgs(`${base}/args.txt`, { log, proxy: plan(`https=${proxy.url}`) })).toBe(ARGS);
    expect(seen.slice(before).map((request) => request.headers.via)).toEqual([expect.stringContaining('tinyproxy'), undefined]);
  });
});
