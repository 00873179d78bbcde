// bench/fleet: N DUTs (concurrent in-process pulls, each with its own store) pulling one image
// through a pull-through docker-registry mirror in a gateway namespace, beside the same N straight
// from the upstream registry. For each N: time to the last pull, p50/p95 per pull, the layer bytes
// the upstream sent per image, and the retries. Usage: bench/fleet [--sizes 1,4,8,16,32] [--mb 16]
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '../src/log/logger.ts';
import { pullAndUnpack, type MirrorConfig, parseReference } from '../src/oci/index.ts';
import { ContentStore } from '../src/store/index.ts';
import { createGatewayNamespace } from '../test/support/gateway-ns.ts';
import { buildImageLayout, pushLayout } from '../test/support/image.ts';
import { freePort, startRegistry, type AccessRecord, type TestRegistry } from '../test/support/registry.ts';
import { median } from './stats.ts';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1,4,8,16,32' }, mb: { type: 'string', default: '16' } } });
const SIZES = (values.sizes ?? '').split(',').map(Number);
const CONTENT = randomBytes(Math.round((Number(values.mb) * 1e6 * 3) / 4)).toString('base64');

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const work = mkdtempSync('/tmp/ocinit-bench-fleet-');
const gateway = createGatewayNamespace('bfleet');
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);
try {
  const upstream = await startRegistry({ address: gateway.hostAddress, port: await freePort(gateway.hostAddress), accessLog: true });
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'data', content: CONTENT }] }] });
  const layer = built.layers[0];
  if (layer === undefined) throw new Error('no layer');
  const reference = await pushLayout(layout, 'v1', upstream, { name: 'fleet/app' });
  const layerBytes = (log: AccessRecord[]): number => log.filter((r) => r.method === 'GET' && r.path.includes(layer.digest)).reduce((sum, r) => sum + r.bytes, 0);

  const wave = async (n: number, mirrors: MirrorConfig | undefined): Promise<{ seconds: number[]; last: number; retries: number }> => {
    const started = performance.now();
    let retries = 0;
    const seconds = await Promise.all(
      Array.from({ length: n }, async () => {
        const t0 = performance.now();
        let logged = '';
        const target = fresh('rootfs');
        const store = fresh('store');
        await pullAndUnpack(parseReference(reference), target, { store: new ContentStore(store), tlsVerify: false, mirrors, log: new Logger({ sink: (text) => (logged += text) }) });
        const elapsed = (performance.now() - t0) / 1000;
        if (readFileSync(join(target, 'data'), 'utf8') !== CONTENT) throw new Error('wrong content');
        retries += logged.split('retrying in').length - 1;
        rmSync(target, { recursive: true, force: true });
        rmSync(store, { recursive: true, force: true });
        return elapsed;
      }),
    );
    return { seconds, last: (performance.now() - started) / 1000, retries };
  };

  console.log(`bench/fleet: ${cpus().length} cores, layer ${(layer.size / 1e6).toFixed(1)} MB gzip, mirror = docker-registry proxy mode in netns ${gateway.name}`);
  console.log('N  | path (mirror cold/warm, or none) | last s | p50 s | p95 s | upstream bytes/image | retries');
  for (const n of SIZES) {
    // A cold mirror per N: the gateway's first pulls of a new image, the case a farm meets every job.
    const storage = fresh('mirror-storage');
    mkdirSync(storage);
    const mirror: TestRegistry = await startRegistry({ netns: gateway.name, address: gateway.gatewayAddress, port: 5000, accessLog: true, proxyRemoteUrl: upstream.url, storageDir: storage });
    const viaMirror: MirrorConfig = { [upstream.host]: [{ location: `${gateway.gatewayAddress}:5000`, insecure: true }] };
    const paths: [string, MirrorConfig | undefined][] = [
      ['cold', viaMirror],
      ['warm', viaMirror],
      ['upstream', undefined],
    ];
    for (const [path, mirrors] of paths) {
      if (path === 'warm') {
        // The mirror stores a blob in the background once it served it.
        const deadline = Date.now() + 30_000;
        while (!existsSync(mirror.blobDataPath(layer.digest)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const before = layerBytes(upstream.accessLog());
      const result = await wave(n, mirrors);
      const perImage = (layerBytes(upstream.accessLog()) - before) / layer.size;
      console.log(
        `${String(n).padEnd(3)}| ${path.padEnd(9)}| ${result.last.toFixed(2).padStart(6)} | ${median(result.seconds).toFixed(2).padStart(5)} | ${percentile(result.seconds, 95).toFixed(2).padStart(5)} | ${perImage.toFixed(2).padStart(20)} | ${result.retries}`,
      );
    }
    await mirror.stop();
  }
  await upstream.stop();
} finally {
  gateway.remove();
  rmSync(work, { recursive: true, force: true });
}
