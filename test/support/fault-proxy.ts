// An HTTP proxy on loopback in front of a real registry that misbehaves on request: error statuses,
// connections cut mid-body, redirects, stalls. It records what each request carried.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type Fault =
  /** An answer of the proxy's own, after `delayMs` if given. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | Buffer; delayMs?: number }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'redirect'; location: (path: string) => string; status?: number }
  | { kind: 'stall' }
  /** Forwarded without its Range header: the whole body with a 200, as some caches answer. */
  | { kind: 'ignore-range' };

export interface FaultRule {
  match: (method: string, path: string, headers: IncomingMessage['headers']) => boolean;
  fault: Fault;
  /** How many matching requests get the fault (default 1). */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  range: string | undefined;
  acceptEncoding: string | undefined;
  fault: Fault['kind'] | undefined;
}

export interface FaultProxy {
  host: string;
  port: number;
  rules: FaultRule[];
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

function forward(upstream: { hostname: string; port: number }, incoming: IncomingMessage, outgoing: ServerResponse, cutAfter: number | undefined, ignoreRange = false): void {
  const headers = { ...incoming.headers, host: `${upstream.hostname}:${upstream.port}` };
  if (ignoreRange) delete headers.range;
  const proxied = httpRequest({ hostname: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers }, (response) => {
    const responseHeaders = { ...response.headers };
    // Keep the registry's own absolute Location URLs pointing at the proxy.
    if (typeof responseHeaders.location === 'string') responseHeaders.location = responseHeaders.location.replace(`${upstream.hostname}:${upstream.port}`, incoming.headers.host ?? '');
    outgoing.writeHead(response.statusCode ?? 502, responseHeaders);
    if (cutAfter === undefined) {
      response.pipe(outgoing);
      return;
    }
    let sent = 0;
    response.on('data', (chunk: Buffer) => {
      if (sent >= cutAfter) return;
      const piece = chunk.subarray(0, cutAfter - sent);
      sent += piece.length;
      outgoing.write(piece);
      if (sent >= cutAfter) {
        // end(), not destroy(): the bytes already written arrive, then the connection closes early.
        outgoing.socket?.end();
        response.destroy();
      }
    });
    response.on('end', () => outgoing.end());
  });
  proxied.on('error', () => outgoing.socket?.destroy());
  incoming.pipe(proxied);
}

export async function startFaultProxy(upstreamHost: string): Promise<FaultProxy> {
  const [hostname = '127.0.0.1', portText = '80'] = upstreamHost.split(':');
  const upstream = { hostname, port: Number(portText) };
  const rules: FaultRule[] = [];
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const method = incoming.method ?? 'GET';
    const path = incoming.url ?? '/';
    const rule = rules.find((candidate) => (candidate.times ?? 1) > 0 && candidate.match(method, path, incoming.headers));
    if (rule !== undefined) rule.times = (rule.times ?? 1) - 1;
    const fault = rule?.fault;
    requests.push({
      method,
      path,
      authorization: incoming.headers.authorization,
      range: incoming.headers.range,
      acceptEncoding: incoming.headers['accept-encoding'],
      fault: fault?.kind,
    });
    if (fault === undefined) return forward(upstream, incoming, outgoing, undefined);
    switch (fault.kind) {
      case 'status': {
        const answer = (): void => void outgoing.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers }).end(fault.body ?? '{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}');
        if (fault.delayMs === undefined) answer();
        else setTimeout(answer, fault.delayMs);
        return;
      }
      case 'redirect':
        outgoing.writeHead(fault.status ?? 307, { location: fault.location(path) }).end();
        return;
      case 'cut':
        return forward(upstream, incoming, outgoing, fault.afterBytes);
      case 'stall':
        return; // never answer
      case 'ignore-range':
        return forward(upstream, incoming, outgoing, undefined, true);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    port,
    rules,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
