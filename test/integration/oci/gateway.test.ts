// Sparing the gateway: what ocinit does when the mirror or the proxy in front of a registry
// misbehaves, counted at fault proxies in front of a real docker-registry.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/log/logger.ts';
import { pullAndUnpack, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

const FAST = { attempts: 4, retryDelayMs: 10, tlsVerify: false } as const;
const CONTENT = randomBytes(300_000).toString('base64').slice(0, 300_000);
let registry: TestRegistry;
let work: string;
let reference: string;
let layerDigest: string;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);
const isLayer = (_method: string, path: string): boolean => path.includes(`/blobs/${layerDigest}`);

async function pullVia(host: string, options: Partial<Parameters<typeof pullAndUnpack>[2]> = {}): Promise<Awaited<ReturnType<typeof pullAndUnpack>>> {
  const target = fresh('rootfs');
  const pulled = await pullAndUnpack(parseReference(reference.replace(registry.host, host)), target, { store: new ContentStore(fresh('store')), ...FAST, ...options });
  expect(readFileSync(join(target, 'big'), 'utf8')).toBe(CONTENT);
  return pulled;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-gateway-'));
  registry = await startRegistry();
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'big', content: CONTENT }] }] });
  layerDigest = built.layers[0]?.digest ?? '';
  reference = await pushLayout(layout, 'v1', registry, { name: 'fleet/app' });
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('a proxy that ignores Range', () => {
  it('lets a layer unpacked as it downloads go on: the bytes already unpacked are read again, hashed, and skipped', async () => {
    const proxy = await startFaultProxy(registry.host);
    try {
      proxy.rules.push({ match: isLayer, fault: { kind: 'cut', afterBytes: 120_000 } }, { match: isLayer, fault: { kind: 'ignore-range' } });
      let logged = '';
      const pulled = await pullVia(proxy.host, { log: new Logger({ sink: (text) => (logged += text) }) });
      expect(pulled.blobsDownloaded).toBe(2);
      const layerRequests = proxy.requests.filter((request) => isLayer(request.method, request.path));
      expect(layerRequests.map((request) => [request.fault, request.range?.startsWith('bytes=') ?? false])).toEqual([
        ['cut', false],
        ['ignore-range', true],
      ]);
      expect(logged).toContain(`ignored the Range request for blob ${layerDigest}: reading it again from byte 0`);
    } finally {
      await proxy.stop();
    }
  });
});

describe('a mirror that fails mid-blob', () => {
  it('hands the blob over to the registry, which goes on from the same byte with Range', async () => {
    const mirror = await startFaultProxy(registry.host);
    const upstream = await startFaultProxy(registry.host);
    try {
      mirror.rules.push({ match: isLayer, fault: { kind: 'cut', afterBytes: 150_000 } }, { match: isLayer, fault: { kind: 'status', status: 503 }, times: 100 });
      const pulled = await pullVia(upstream.host, { mirrors: { [upstream.host]: [{ location: mirror.host, insecure: true }] } });
      expect(pulled.source).toBe(`mirror ${mirror.host}`);
      const fromUpstream = upstream.requests.filter((request) => isLayer(request.method, request.path));
      expect(fromUpstream).toHaveLength(1);
      const offset = Number(/^bytes=(\d+)-$/.exec(fromUpstream[0]?.range ?? '')?.[1]);
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(150_000);
      // The manifest and config came from the mirror: only the layer's rest from the registry.
      expect(upstream.requests.filter((request) => request.path.includes('/manifests/'))).toEqual([]);
    } finally {
      await mirror.stop();
      await upstream.stop();
    }
  });
});

describe('a gateway restarting under a fleet', () => {
  it('gets no retry storm: eight pulls wait out Retry-After, each asking a few times, and all finish', async () => {
    const gateway = await startFaultProxy(registry.host);
    try {
      const restarting = { match: () => true, fault: { kind: 'status', status: 503, headers: { 'retry-after': '1' } } as const, times: 1_000_000 };
      gateway.rules.push(restarting);
      const pulls = Array.from({ length: 8 }, () => pullVia(gateway.host, { attempts: 5, retryDelayMs: 10 }));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      restarting.times = 0;
      const refused = gateway.requests.filter((request) => request.fault === 'status').length;
      await Promise.all(pulls);
      // Without Retry-After and with 10 ms backoff, each pull would have used its 5 attempts in
      // well under a second and failed. Honoured (1 to 1.25 s apart), each asks at most twice.
      expect(refused).toBeGreaterThanOrEqual(8);
      expect(refused).toBeLessThanOrEqual(16);
      expect(gateway.requests.filter((request) => request.fault === undefined && isLayer(request.method, request.path))).toHaveLength(8);
    } finally {
      await gateway.stop();
    }
  });
});
