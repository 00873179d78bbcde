// bench/cache: the same job booted three ways in QEMU, alternating, N runs each:
//   RAM   b2c.cache_device=none (every boot downloads and unpacks everything)
//   first b2c.cache_device=auto on a blank disk (partition, format, download, unpack)
//   second the same disk booted again (manifest asked, no blob downloaded)
// It prints the uptime at the status line, the wall time, the bytes downloaded (counted by a proxy
// in front of docker-registry) and the ratios, as medians.
// usage: bench/cache [--runs N] [--megabytes M] [--accel auto|kvm|tcg]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { demoImageSpec } from '../qemu/demo-image.ts';
import { boot, type Accel } from '../qemu/harness.ts';
import { createBlankImage } from '../test/integration/cache/disk-image.ts';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import { buildImageLayout, pushLayout } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, megabytes: { type: 'string', default: '64' }, accel: { type: 'string', default: 'auto' } } });
const runs = Number.parseInt(values.runs ?? '3', 10);
const megabytes = Number.parseInt(values.megabytes ?? '64', 10);
const accel = (values.accel ?? 'auto') as Accel;

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const work = mkdtempSync(join(tmpdir(), 'ocinit-bench-cache-'));
const registry = await startRegistry();
const proxy = await startFaultProxy(registry.host);
const demo = demoImageSpec();
// Incompressible data in many files, so download, hashing and unpacking all show.
const bulk = Array.from({ length: megabytes }, (_, index) => ({ path: `data/chunk-${index}.bin`, content: randomBytes(1024 * 1024) }));
await buildImageLayout(join(work, 'layout'), 'bench', { ...demo, layers: [...demo.layers, { files: bulk, compression: 'gzip' }] });
const pushed = await pushLayout(join(work, 'layout'), 'bench', registry, { name: 'bench/cache' });
const image = pushed.replace(registry.host, `10.0.2.2:${proxy.port}`);
const job = `b2c.container="--tls-verify=false ${image} sh -c 'du -sm /data'"`;

interface Sample {
  uptime: number;
  wall: number;
  megabytes: number;
}

async function measure(disk: string | undefined, cacheDevice: string): Promise<Sample> {
  proxy.requests.splice(0);
  const result = await boot({ disks: disk === undefined ? [] : [disk], append: [`b2c.cache_device=${cacheDevice}`, job], accel, timeoutSeconds: 600 });
  const uptime = /\[(\d+\.\d+)\]: Execution is over, pipeline status: 0/.exec(result.console)?.[1];
  if (uptime === undefined) throw new Error(`the job failed:\n${result.console.slice(-3000)}`);
  const pulled = /Pulled \S+: \d+ blob\(s\), (\d+\.\d) MB downloaded/.exec(result.console)?.[1];
  return { uptime: Number(uptime), wall: result.seconds, megabytes: Number(pulled ?? Number.NaN) };
}

const samples = { ram: [] as Sample[], first: [] as Sample[], second: [] as Sample[] };
const blobRequests = { ram: [] as number[], first: [] as number[], second: [] as number[] };
const countBlobRequests = (): number => proxy.requests.filter((request) => request.path.includes('/blobs/')).length;
try {
  for (let run = 0; run < runs; run++) {
    samples.ram.push(await measure(undefined, 'none'));
    blobRequests.ram.push(countBlobRequests());
    const disk = join(work, `disk-${run}.img`);
    createBlankImage(disk, 4 * 1024 ** 3);
    samples.first.push(await measure(disk, 'auto'));
    blobRequests.first.push(countBlobRequests());
    samples.second.push(await measure(disk, 'auto'));
    blobRequests.second.push(countBlobRequests());
    rmSync(disk, { force: true });
    const last = (list: Sample[]): string => {
      const sample = list.at(-1);
      return sample === undefined ? '' : `${sample.uptime.toFixed(1)} s (wall ${sample.wall.toFixed(1)} s, ${sample.megabytes} MB)`;
    };
    console.log(`run ${run + 1}: RAM ${last(samples.ram)}; first ${last(samples.first)}; second ${last(samples.second)}`);
  }
} finally {
  await proxy.stop();
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}

const m = (list: Sample[], key: keyof Sample): number => median(list.map((sample) => sample[key]));
console.log(`\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, accel ${accel}; image: busybox demo + ${megabytes} MB incompressible (gzip layer); ${runs} runs, medians`);
console.log('| boot | uptime at status line | wall | downloaded | blob requests |');
console.log('|---|---|---|---|---|');
console.log(`| RAM only (cache_device=none) | ${m(samples.ram, 'uptime').toFixed(1)} s | ${m(samples.ram, 'wall').toFixed(1)} s | ${m(samples.ram, 'megabytes')} MB | ${median(blobRequests.ram)} |`);
console.log(`| first, blank cache disk | ${m(samples.first, 'uptime').toFixed(1)} s | ${m(samples.first, 'wall').toFixed(1)} s | ${m(samples.first, 'megabytes')} MB | ${median(blobRequests.first)} |`);
console.log(`| second, same disk | ${m(samples.second, 'uptime').toFixed(1)} s | ${m(samples.second, 'wall').toFixed(1)} s | ${m(samples.second, 'megabytes')} MB | ${median(blobRequests.second)} |`);
console.log(`second/first: ${(m(samples.second, 'uptime') / m(samples.first, 'uptime')).toFixed(2)}; second/RAM: ${(m(samples.second, 'uptime') / m(samples.ram, 'uptime')).toFixed(2)}`);
