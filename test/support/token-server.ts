// A bearer-token issuer for Debian's docker-registry (`auth: token`): ES256 JWTs carrying the signing
// certificate in x5c, which the registry checks against the bundle it is given. Loopback only.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenRequest {
  scopes: string[];
  service: string | undefined;
  user: string | undefined;
}

export interface TokenServerOptions {
  users?: Record<string, string>;
  /** Grant pull without credentials. */
  anonymousPull?: boolean;
  /** How long the JWT is valid (default 300 s). */
  lifetimeSeconds?: number;
  /** What `expires_in` says (default: the real lifetime). */
  advertisedExpiresIn?: number;
  /** Which field carries the token (default `token`). */
  field?: 'token' | 'access_token';
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ocinit-token-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=ocinit-test-token'], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyPath));
  const certificate = readFileSync(certPath, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const service = 'ocinit-test-registry';
  const issuer = 'ocinit-test-issuer';
  const requests: TokenRequest[] = [];

  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    let user: string | undefined;
    const authorization = request.headers.authorization;
    if (authorization?.startsWith('Basic ')) {
      const [name = '', password = ''] = Buffer.from(authorization.slice(6), 'base64').toString().split(/:(.*)/s);
      if (options.users?.[name] !== password) {
        response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      user = name;
    }
    const scopes = url.searchParams.getAll('scope');
    requests.push({ scopes, service: url.searchParams.get('service') ?? undefined, user });
    const access = scopes.flatMap((scope) => {
      const [type, name, actions = ''] = scope.split(':');
      const granted = actions.split(',').filter((action) => user !== undefined || (options.anonymousPull === true && action === 'pull'));
      return type === 'repository' && name !== undefined ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const lifetime = options.lifetimeSeconds ?? 300;
    const header = { alg: 'ES256', typ: 'JWT', x5c: [certificate] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + lifetime, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${base64url(signature)}`;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ [options.field ?? 'token']: token, expires_in: options.advertisedExpiresIn ?? lifetime, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certPath,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
