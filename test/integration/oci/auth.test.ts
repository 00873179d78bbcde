import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/log/errors.ts';
import { Logger } from '../../../src/log/logger.ts';
import { Secret } from '../../../src/log/secret.ts';
import { parseCredentials, pullImage, unpackImage, parseReference } from '../../../src/oci/index.ts';
import { RegistryTransport } from '../../../src/oci/transport.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { startTokenServer, type TokenServer } from '../../support/token-server.ts';

const PASSWORD = 'correct-horse-battery';
let work: string;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

async function pushSample(registry: TestRegistry, name: string, creds: string): Promise<string> {
  const layout = fresh('layout');
  await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'secret-app', content: 'authorised' }] }] });
  return pushLayout(layout, 'v1', registry, { name, creds });
}

function capturingLogger(): { logger: Logger; text: () => string } {
  let text = '';
  return { logger: new Logger({ sink: (line) => (text += line) }), text: () => text };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-auth-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('HTTP Basic (htpasswd)', () => {
  let registry: TestRegistry;
  let reference: string;
  beforeAll(async () => {
    registry = await startRegistry({ users: { alice: PASSWORD } });
    reference = await pushSample(registry, 'private/app', `alice:${PASSWORD}`);
  });
  afterAll(async () => registry?.stop());

  it('pulls with --creds and with an auth.json, never printing the password', async () => {
    const { logger, text } = capturingLogger();
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false, credentials: parseCredentials(`alice:${PASSWORD}`), log: logger });
    const target = fresh('rootfs');
    await unpackImage(pulled, target, { store });
    expect(readFileSync(join(target, 'secret-app'), 'utf8')).toBe('authorised');
    const authfile = fresh('auth.json');
    writeFileSync(authfile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
    const viaFile = await pullImage(parseReference(reference), { store: new ContentStore(fresh('store')), tlsVerify: false, authfile, log: logger });
    expect(viaFile.manifestDigest).toBe(pulled.manifestDigest);
    expect(text()).not.toContain(PASSWORD);
  });

  it('says what to do without credentials and with wrong ones, without echoing them', async () => {
    const store = new ContentStore(fresh('store'));
    const anonymous = await pullImage(parseReference(reference), { store, tlsVerify: false }).catch((error: unknown) => error);
    expect(describeError(anonymous)).toMatch(/refused the credentials while fetching manifest v1 of .*HTTP 401[\s\S]*hint: this registry needs credentials: pass --creds/);
    const wrong = await pullImage(parseReference(reference), { store, tlsVerify: false, credentials: { username: 'alice', password: new Secret('wrong-password-123') } }).catch((error: unknown) => error);
    expect(describeError(wrong)).toContain('check the username and password');
    expect(describeError(wrong)).not.toContain('wrong-password-123');
  });
});

describe('bearer tokens', () => {
  let tokens: TokenServer;
  let registry: TestRegistry;
  let reference: string;
  beforeAll(async () => {
    tokens = await startTokenServer({ users: { alice: PASSWORD }, anonymousPull: false });
    registry = await startRegistry({ token: tokens });
    reference = await pushSample(registry, 'team/app', `alice:${PASSWORD}`);
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  it('gets a token for the repository scope with the credentials, and reuses it', async () => {
    tokens.requests.length = 0;
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false, credentials: parseCredentials(`alice:${PASSWORD}`) });
    expect(pulled.layers).toHaveLength(1);
    expect(tokens.requests).toEqual([{ scopes: ['repository:team/app:pull'], service: tokens.service, user: 'alice' }]);
  });

  it('fails with a hint when the token grants nothing (anonymous on a private repository)', async () => {
    const store = new ContentStore(fresh('store'));
    await expect(pullImage(parseReference(reference), { store, tlsVerify: false })).rejects.toThrow('refused the credentials');
  });

  it('fetches a new token once on 401 and when the old one expired', async () => {
    const proxy = await startFaultProxy(registry.host);
    try {
      const transport = new RegistryTransport({ host: proxy.host, tlsVerify: false, credentials: parseCredentials(`alice:${PASSWORD}`) });
      const scope = 'repository:team/app:pull';
      const get = async (): Promise<number> => {
        const response = await transport.get('/v2/team/app/manifests/v1', { scope, what: 'test', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        await response.body.dump();
        return response.status;
      };
      tokens.requests.length = 0;
      expect(await get()).toBe(200);
      expect(tokens.requests).toHaveLength(1);
      proxy.rules.push({
        match: (_method, path) => path.includes('/manifests/'),
        fault: { kind: 'status', status: 401, headers: { 'www-authenticate': `Bearer realm="${tokens.realm}",service="${tokens.service}",scope="${scope}"` } },
      });
      expect(await get()).toBe(200);
      expect(tokens.requests).toHaveLength(2);
      await transport.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe('token variants', () => {
  it('accepts access_token and refreshes a token that expires', async () => {
    const tokens = await startTokenServer({ users: { alice: PASSWORD }, field: 'access_token', lifetimeSeconds: 60, advertisedExpiresIn: 9 });
    const registry = await startRegistry({ token: tokens });
    try {
      const reference = await pushSample(registry, 'team/variant', `alice:${PASSWORD}`);
      const store = new ContentStore(fresh('store'));
      expect((await pullImage(parseReference(reference), { store, tlsVerify: false, credentials: parseCredentials(`alice:${PASSWORD}`) })).layers).toHaveLength(1);
      const transport = new RegistryTransport({ host: registry.host, tlsVerify: false, credentials: parseCredentials(`alice:${PASSWORD}`) });
      const get = async (): Promise<number> => {
        const response = await transport.get('/v2/team/variant/manifests/v1', { scope: 'repository:team/variant:pull', what: 'test', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        await response.body.dump();
        return response.status;
      };
      tokens.requests.length = 0;
      expect([await get(), await get()]).toEqual([200, 200]);
      expect(tokens.requests).toHaveLength(1);
      // expires_in 9 s minus the 5 s safety margin: the cached token is stale after 4 s.
      await new Promise((resolve) => setTimeout(resolve, 4500));
      expect(await get()).toBe(200);
      expect(tokens.requests).toHaveLength(2);
      await transport.close();
    } finally {
      await registry.stop();
      await tokens.stop();
    }
  });
});
