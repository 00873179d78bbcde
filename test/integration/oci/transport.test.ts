import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/log/logger.ts';
import { parseCredentials, pullAndUnpack, pullImage, unpackImage, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { freePort, startRegistry, type TestRegistry } from '../../support/registry.ts';

const PASSWORD = 'transport-secret-pw';
const FAST = { attempts: 4, retryDelayMs: 10, tlsVerify: false } as const;
let registry: TestRegistry;
let work: string;
let reference: string;
let layerDigest: string;
let layerSize: number;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);
const creds = (): ReturnType<typeof parseCredentials> => parseCredentials(`bob:${PASSWORD}`);

/** Pulls through `host` (a proxy standing in for the registry) and checks the unpacked result. */
async function pullThrough(host: string, extra: Parameters<typeof pullImage>[1] extends infer O ? Partial<O> : never = {}): Promise<Awaited<ReturnType<typeof pullImage>>> {
  const store = new ContentStore(fresh('store'));
  const pulled = await pullImage(parseReference(reference.replace(registry.host, host)), { store, ...FAST, credentials: creds(), ...extra });
  const target = fresh('rootfs');
  await unpackImage(pulled, target, { store });
  expect(readFileSync(join(target, 'big'), 'utf8').length).toBe(300_000);
  return pulled;
}

let proxy: FaultProxy;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-transport-'));
  registry = await startRegistry({ users: { bob: PASSWORD } });
  const layout = fresh('layout');
  // Incompressible, so that the gzip layer is large enough to be cut twice.
  const random = randomBytes(300_000).toString('base64').slice(0, 300_000);
  const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'big', content: random }] }] });
  layerDigest = built.layers[0]?.digest ?? '';
  layerSize = built.layers[0]?.size ?? 0;
  reference = await pushLayout(layout, 'v1', registry, { name: 'net/app', creds: `bob:${PASSWORD}` });
});

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('transport against a misbehaving network', () => {
  beforeAll(async () => {
    proxy = await startFaultProxy(registry.host);
  });
  afterAll(async () => proxy?.stop());
  afterEach(() => {
    proxy.rules.length = 0;
  });

  it('retries 5xx and 429 (honouring Retry-After)', async () => {
    proxy.requests.length = 0;
    proxy.rules.push(
      { match: (_m, path) => path.includes('/manifests/'), fault: { kind: 'status', status: 503 }, times: 2 },
      { match: (_m, path) => path.includes(layerDigest), fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' } } },
    );
    await pullThrough(proxy.host);
    const faults = proxy.requests.filter((request) => request.fault !== undefined).map((request) => request.fault);
    expect(faults).toEqual(['status', 'status', 'status']);
  });

  it('resumes a broken blob download with Range and identity encoding', async () => {
    proxy.requests.length = 0;
    proxy.rules.push({ match: (_m, path) => path.includes(layerDigest), fault: { kind: 'cut', afterBytes: 100_000 }, times: 2 });
    await pullThrough(proxy.host);
    const blobRequests = proxy.requests.filter((request) => request.path.includes(layerDigest));
    // Each resumption starts where the bytes that arrived end (undici may drop a few buffered ones).
    const ranges = blobRequests.map((request) => request.range);
    expect(ranges).toHaveLength(3);
    expect(ranges[0]).toBeUndefined();
    const offsets = ranges.slice(1).map((range) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1]));
    expect(offsets[0]).toBeGreaterThan(0);
    expect(offsets[0]).toBeLessThanOrEqual(100_000);
    expect(offsets[1]).toBeGreaterThan(offsets[0] ?? 0);
    expect(offsets[1]).toBeLessThanOrEqual(200_000);
    expect(blobRequests.every((request) => request.acceptEncoding === 'identity')).toBe(true);
    expect(layerSize).toBeGreaterThan(200_000);
  });

  it('resumes a layer that is being unpacked as it downloads, seamlessly', async () => {
    proxy.requests.length = 0;
    proxy.rules.push({ match: (_m, path) => path.includes(layerDigest), fault: { kind: 'cut', afterBytes: 50_000 }, times: 3 });
    const target = fresh('rootfs');
    const pulled = await pullAndUnpack(parseReference(reference.replace(registry.host, proxy.host)), target, { store: new ContentStore(fresh('store')), ...FAST, credentials: creds() });
    expect(pulled.blobsDownloaded).toBe(2);
    expect(readFileSync(join(target, 'big'), 'utf8').length).toBe(300_000);
    expect(proxy.requests.filter((request) => request.path.includes(layerDigest)).map((request) => request.range?.startsWith('bytes=') ?? 'whole')).toEqual(['whole', true, true, true]);
  });

  it('gives up after the attempts with a message naming the registry and the blob', async () => {
    proxy.rules.push({ match: (_m, path) => path.includes(layerDigest), fault: { kind: 'status', status: 500 }, times: 10 });
    await expect(pullThrough(proxy.host)).rejects.toThrow(`registry ${proxy.host} answered HTTP 500 while downloading blob ${layerDigest}`);
    proxy.rules.length = 0;
  });

  it('fails with a timeout naming the registry and what it was doing', async () => {
    proxy.rules.push({ match: (_m, path) => path.includes('/manifests/'), fault: { kind: 'stall' }, times: 10 });
    await expect(pullThrough(proxy.host, { timeoutMs: 300, attempts: 2 })).rejects.toThrow(`registry ${proxy.host} did not answer within 0.3 s while fetching manifest v1`);
    proxy.rules.length = 0;
  });

  it('refuses oversized manifests, a lying Docker-Content-Digest and a mediaType contradicting the Content-Type', async () => {
    const manifests = (_m: string, path: string): boolean => path.includes('/manifests/');
    proxy.rules.push({ match: manifests, fault: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: Buffer.alloc(5 * 1024 * 1024, 0x20) } });
    await expect(pullThrough(proxy.host)).rejects.toThrow(`registry ${proxy.host} served a manifest larger than 4194304 bytes; refused`);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [] });
    const lie = `sha256:${'2'.repeat(64)}`;
    proxy.rules.push({ match: manifests, fault: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': lie }, body: manifest } });
    await expect(pullThrough(proxy.host)).rejects.toThrow(`manifest ${lie} failed verification: expected ${lie}, got sha256:`);
    proxy.rules.push({ match: manifests, fault: { kind: 'status', status: 200, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: manifest } });
    await expect(pullThrough(proxy.host)).rejects.toThrow('contradicts the Content-Type');
  });

  it('follows a blob redirect to another origin without the credentials, and refuses redirect loops', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const objectStore: Server = createServer((request, response) => {
      seen.push(request.headers);
      const digest = (request.url ?? '').split('/').pop() ?? '';
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(registry.blobDataPath(digest)));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => objectStore.listen(port, '127.0.0.1', resolve));
    try {
      proxy.requests.length = 0;
      proxy.rules.push({ match: (_m, path) => path.includes(layerDigest), fault: { kind: 'redirect', location: () => `http://localhost:${port}/bucket/${layerDigest}` } });
      await pullThrough(proxy.host);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.authorization).toBeUndefined();
      expect(proxy.requests.filter((request) => request.path.includes('/manifests/')).every((request) => request.authorization?.startsWith('Basic '))).toBe(true);

      proxy.rules.push({ match: (_m, path) => path.includes(layerDigest), fault: { kind: 'redirect', location: (path) => path }, times: 20 });
      await expect(pullThrough(proxy.host)).rejects.toThrow('redirected more than 5 times');
      proxy.rules.length = 0;
    } finally {
      objectStore.closeAllConnections();
      await new Promise((resolve) => objectStore.close(resolve));
    }
  });
});

describe('cancellation', () => {
  it('stops a pull mid-download when the signal fires, leaving no target and no partial blob', async () => {
    const controller = new AbortController();
    const storeDir = fresh('store');
    const target = fresh('rootfs');
    const pulling = pullAndUnpack(parseReference(reference), target, {
      store: new ContentStore(storeDir),
      ...FAST,
      credentials: creds(),
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('job cancelled')),
    });
    await expect(pulling).rejects.toThrow('was cancelled');
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
    expect(readdirSync(join(target, '..')).filter((name) => name.includes('ocinit-'))).toEqual([]);
  });
});

describe('a failed pull', () => {
  it('cuts off the downloads still running and removes their temporary files before it reports the failure', async () => {
    const layout = fresh('layout');
    const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'one', content: 'one' }] }, { files: [{ path: 'two', content: 'two' }] }] });
    const image = await pushLayout(layout, 'v1', registry, { name: 'net/two', creds: `bob:${PASSWORD}` });
    const [first, second] = built.layers.map((layer) => layer.digest);
    const faults = await startFaultProxy(registry.host);
    try {
      faults.rules.push({ match: (_method, path) => path.includes(`blobs/${second}`), fault: { kind: 'stall' }, times: 1000 });
      // Late enough that the other download is surely under way when the pull fails.
      faults.rules.push({ match: (_method, path) => path.includes(`blobs/${first}`), fault: { kind: 'status', status: 404, delayMs: 300 }, times: 1000 });
      for (const target of [undefined, fresh('rootfs')]) {
        const storeDir = fresh('store');
        const options = { store: new ContentStore(storeDir), ...FAST, credentials: creds() };
        const through = image.replace(registry.host, faults.host);
        await expect(target === undefined ? pullImage(parseReference(through), options) : pullAndUnpack(parseReference(through), target, options)).rejects.toThrow('HTTP 404');
        expect(faults.requests.filter((request) => request.path.includes(`blobs/${second}`)).length).toBeGreaterThan(0);
        expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
      }
    } finally {
      await faults.stop();
    }
  });
});

describe('registry outage', () => {
  it('uses the image pulled before when the registry cannot be reached, but not when it says the tag is gone', async () => {
    const proxy = await startFaultProxy(registry.host);
    try {
      const store = new ContentStore(fresh('store'));
      const image = reference.replace(registry.host, proxy.host);
      const first = await pullImage(parseReference(image), { store, ...FAST, credentials: creds() });
      proxy.rules.push({ match: () => true, fault: { kind: 'status', status: 503 }, times: 1000 });
      let logged = '';
      const log = new Logger({ sink: (text) => (logged += text) });
      const target = fresh('rootfs');
      const cached = await pullAndUnpack(parseReference(image), target, { store, ...FAST, credentials: creds(), log });
      expect(cached.manifestDigest).toBe(first.manifestDigest);
      expect(cached.blobsDownloaded).toBe(0);
      expect(readFileSync(join(target, 'big'), 'utf8').length).toBe(300_000);
      expect(logged).toContain(`from the store as pulled before`);
      await expect(pullImage(parseReference(image), { store: new ContentStore(fresh('store')), ...FAST, credentials: creds() })).rejects.toThrow('answered HTTP 503');
      proxy.rules.length = 0;
      proxy.rules.push({ match: (_m, path) => path.includes('/manifests/'), fault: { kind: 'status', status: 404 }, times: 1000 });
      await expect(pullImage(parseReference(image), { store, ...FAST, credentials: creds() })).rejects.toThrow('HTTP 404');
    } finally {
      await proxy.stop();
    }
  });
});

describe('mirrors', () => {
  it('uses a working mirror before the registry, and falls back when the mirror fails', async () => {
    const mirror = await startFaultProxy(registry.host);
    const upstream = await startFaultProxy(registry.host);
    try {
      const authfile = join(work, 'mirror-auth.json');
      const basic = { auth: Buffer.from(`bob:${PASSWORD}`).toString('base64') };
      writeFileSync(authfile, JSON.stringify({ auths: { [mirror.host]: basic } }));
      const mirrors = { [upstream.host]: [{ location: mirror.host, insecure: true }] };
      const viaMirror = await pullThrough(upstream.host, { mirrors, authfile });
      expect(viaMirror.source).toBe(`mirror ${mirror.host}`);
      expect(upstream.requests).toEqual([]);

      mirror.rules.push({ match: () => true, fault: { kind: 'status', status: 500 }, times: 100 });
      const fallback = await pullThrough(upstream.host, { mirrors, authfile });
      expect(fallback.source).toBe(`registry ${upstream.host}`);
      expect(upstream.requests.length).toBeGreaterThan(0);
    } finally {
      await mirror.stop();
      await upstream.stop();
    }
  });
});
