// A fleet behind one gateway, at CI size: an upstream docker-registry on the host, a pull-through
// docker-registry mirror in a network namespace standing for the gateway, and eight pulls at once
// (each its own store, standing for a DUT). The mirror is stopped for 20 s while they download:
// every pull still finishes and verifies. Requests and bytes are counted in both access logs.
// bench/fleet runs the larger figures.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/log/logger.ts';
import { pullAndUnpack, type PulledImage, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { createGatewayNamespace, type GatewayNamespace } from '../../support/gateway-ns.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { freePort, startRegistry, type AccessRecord, type TestRegistry } from '../../support/registry.ts';

const N = 8;
const OUTAGE_MS = 20_000;
const CONTENT = randomBytes(3_000_000).toString('base64');
let gateway: GatewayNamespace;
let upstream: TestRegistry;
let mirror: TestRegistry;
let mirrorLog: AccessRecord[] = [];
let work: string;
let reference: string;
let layerDigest: string;
let layerSize: number;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

function startMirror(): Promise<TestRegistry> {
  mkdirSync(join(work, 'mirror-storage'), { recursive: true });
  return startRegistry({
    netns: gateway.name,
    address: gateway.gatewayAddress,
    port: 5000,
    accessLog: true,
    proxyRemoteUrl: upstream.url,
    storageDir: join(work, 'mirror-storage'),
  });
}

async function stopMirror(): Promise<void> {
  mirrorLog = [...mirrorLog, ...mirror.accessLog()];
  await mirror.stop();
}

const layerBytes = (log: AccessRecord[]): number => log.filter((record) => record.method === 'GET' && record.path.includes(layerDigest)).reduce((sum, record) => sum + record.bytes, 0);

interface DutPull {
  image: PulledImage;
  retries: number;
}

/** One DUT's pull: its own store and directory; the tree must hold the image's bytes. */
async function dutPull(onProgress?: (received: number) => void): Promise<DutPull> {
  let logged = '';
  const target = fresh('rootfs');
  const image = await pullAndUnpack(parseReference(reference), target, {
    store: new ContentStore(fresh('store')),
    tlsVerify: false,
    mirrors: { [upstream.host]: [{ location: `${gateway.gatewayAddress}:5000`, insecure: true }] },
    log: new Logger({ sink: (text) => (logged += text) }),
    onProgress: onProgress === undefined ? undefined : (progress) => onProgress(progress.received),
  });
  expect(readFileSync(join(target, 'data'), 'utf8') === CONTENT).toBe(true);
  return { image, retries: logged.split('retrying in').length - 1 };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-fleet-'));
  gateway = createGatewayNamespace('fleet');
  upstream = await startRegistry({ address: gateway.hostAddress, port: await freePort(gateway.hostAddress), accessLog: true });
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'data', content: CONTENT }] }] });
  layerDigest = built.layers[0]?.digest ?? '';
  layerSize = built.layers[0]?.size ?? 0;
  reference = await pushLayout(layout, 'v1', upstream, { name: 'fleet/app' });
  mirror = await startMirror();
});

afterAll(async () => {
  await mirror?.stop();
  await upstream?.stop();
  gateway?.remove();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('a fleet behind one gateway', () => {
  it(`${N} pulls at once survive the mirror stopping for ${OUTAGE_MS / 1000} s, and the mirror spares the upstream after`, async () => {
    const upstreamBefore = layerBytes(upstream.accessLog());
    let restarted: Promise<void> | undefined;
    let received = 0;
    const stopOnce = (bytes: number): void => {
      received += bytes;
      if (restarted !== undefined || received < 2 * layerSize) return;
      // Mid-download for most of the fleet: the gateway goes away, and comes back 20 s later.
      restarted = stopMirror()
        .then(() => new Promise((resolve) => setTimeout(resolve, OUTAGE_MS)))
        .then(async () => void (mirror = await startMirror()));
    };
    const first = await Promise.all(Array.from({ length: N }, () => dutPull(stopOnce)));
    expect(restarted).toBeDefined();
    await restarted;
    const upstreamDuring = layerBytes(upstream.accessLog()) - upstreamBefore;

    // The mirror is back: a second wave comes from it.
    const second = await Promise.all(Array.from({ length: N }, () => dutPull()));
    const upstreamAfter = layerBytes(upstream.accessLog()) - upstreamBefore - upstreamDuring;
    // Once the mirror holds the blob, a third wave costs the upstream nothing.
    const deadline = Date.now() + 20_000;
    while (!existsSync(mirror.blobDataPath(layerDigest)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const beforeThird = layerBytes(upstream.accessLog());
    const third = await Promise.all(Array.from({ length: N }, () => dutPull()));
    const upstreamThird = layerBytes(upstream.accessLog()) - beforeThird;
    const mirrorServed = layerBytes([...mirrorLog, ...mirror.accessLog()]);
    process.stdout.write(
      `fleet: layer ${layerSize} B; wave 1 (outage): upstream sent ${upstreamDuring} B of layer (${(upstreamDuring / layerSize).toFixed(2)}x), retries ${first.map((pull) => pull.retries).join(',')}; ` +
        `wave 2: upstream sent ${upstreamAfter} B (${(upstreamAfter / layerSize).toFixed(2)}x); wave 3: ${upstreamThird} B; mirror served ${mirrorServed} B in all, ${upstream.accessLog().length} requests at the upstream\n`,
    );
    // No storm: a storm multiplies the fleet by its retries (up to 10 each here: 80 copies and more).
    // What is left is each DUT's hand-over plus what the mirror fetches for itself, which varies
    // with timing (seen: 3x to 10x for 8 DUTs, hitting an N+2 bound exactly), so the bound is 2N.
    const stormFree = 2 * N * layerSize;
    expect(upstreamDuring).toBeLessThanOrEqual(stormFree);
    for (const wave of [second, third]) expect(wave.every((pull) => pull.image.source === `mirror ${gateway.gatewayAddress}:5000`)).toBe(true);
    // The mirror lost the blob with its restart, and docker-registry 2.8 does not merge concurrent
    // fetches of a blob it lacks: each DUT's request goes upstream, plus the mirror's own copy.
    expect(upstreamAfter).toBeLessThanOrEqual(stormFree);
    expect(upstreamThird).toBe(0);
    expect(first.every((pull) => pull.retries <= 10)).toBe(true);
  });
});
