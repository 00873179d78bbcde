// bench/overlap: the boot's pull phase on debian-minbase (a fresh pull into RAM), as it was until
// round 3 (pullImage, then unpackImage from the store) against as it is now (pullAndUnpack: the
// first layer unpacks from the network as it arrives, each later one as soon as it is complete),
// alternating, several runs each, each on a fresh tmpfs. The registry and the pulls run in a network
// namespace of their own whose loopback is shaped to a lab link's rate (tc tbf), and at full speed.
// Needs root.
//   node_modules/.bin/node bench/overlap.ts [--runs N] [--rates loopback,1gbit,300mbit]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pullAndUnpack, pullImage, unpackImage, parseReference } from '../src/oci/index.ts';
import { ContentStore } from '../src/store/index.ts';
import { pushLayout } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';
import { BENCH, DEBIAN_LAYERS, ensureLayout, ensureRootfs, onFreshFileSystem } from './inputs.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
};
const RUNS = Number(option('--runs') ?? 5) || 5;
const RATES = (option('--rates') ?? 'loopback,1gbit,300mbit').split(',');

interface RateResult {
  rate: string;
  sequential: number[];
  overlapped: number[];
}

type Mode = 'sequential' | 'overlapped';

async function pullOnce(mode: Mode, reference: string, scratch: string): Promise<number> {
  return onFreshFileSystem('tmpfs', 2 * 2 ** 30, join(scratch, 'fs'), async (dir) => {
    const store = new ContentStore(join(dir, 'store'));
    const target = join(dir, 'rootfs');
    const started = performance.now();
    if (mode === 'sequential') await unpackImage(await pullImage(parseReference(reference), { store, tlsVerify: false }), target, { store });
    else await pullAndUnpack(parseReference(reference), target, { store, tlsVerify: false });
    return (performance.now() - started) / 1000;
  });
}

/** In a network namespace of its own (see main): shapes lo, serves the image, pulls it both ways. */
async function inner(rate: string, layout: string): Promise<void> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  if (rate !== 'loopback') execFileSync('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', rate, 'burst', '1mb', 'latency', '50ms']);
  const registry = await startRegistry();
  const scratch = mkdtempSync(join(BENCH, 'overlap-'));
  const result: RateResult = { rate, sequential: [], overlapped: [] };
  try {
    const reference = await pushLayout(layout, 'v1', registry, { name: 'bench/overlap' });
    // One untimed pull each: the page cache and V8's compiled code start warm for both.
    for (const mode of ['sequential', 'overlapped'] as const) await pullOnce(mode, reference, scratch);
    for (let run = 0; run < RUNS; run++) {
      // Alternate which goes first, so that a drift in machine load is shared out evenly.
      const order: Mode[] = run % 2 === 0 ? ['sequential', 'overlapped'] : ['overlapped', 'sequential'];
      for (const mode of order) result[mode].push(await pullOnce(mode, reference, scratch));
      process.stderr.write(`  ${rate}, run ${run + 1}: pull then unpack ${result.sequential.at(-1)?.toFixed(2)} s, overlapped ${result.overlapped.at(-1)?.toFixed(2)} s\n`);
    }
  } finally {
    await registry.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/overlap mounts a tmpfs per run and shapes a namespace\'s loopback: run it as root');
  mkdirSync(BENCH, { recursive: true });
  ensureRootfs();
  const layout = ensureLayout('layout-debian', DEBIAN_LAYERS);
  const blobBytes = readdirSync(join(layout, 'blobs', 'sha256')).reduce((sum, name) => sum + statSync(join(layout, 'blobs', 'sha256', name)).size, 0);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; node ${process.version}; image: debian-minbase, ${(blobBytes / 1e6).toFixed(0)} MB of blobs; ${RUNS} runs of each per rate, fresh tmpfs each`);
  const results: RateResult[] = [];
  for (const rate of RATES) {
    const child = spawnSync('unshare', ['--net', process.execPath, import.meta.filename, '--inner', rate, '--layout', layout, '--runs', String(RUNS)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 });
    const last = child.stdout.trim().split('\n').at(-1) ?? '';
    if (child.status !== 0 || !last.startsWith('{')) throw new Error(`the run at ${rate} failed (exit ${child.status}): ${child.stdout.slice(-2000)}`);
    results.push(JSON.parse(last) as RateResult);
  }
  console.log('\n| link | pull, then unpack | overlapped | ratio |');
  console.log('|---|---|---|---|');
  for (const { rate, sequential, overlapped } of results) {
    const before = median(sequential);
    const now = median(overlapped);
    console.log(`| ${rate === 'loopback' ? 'loopback, unshaped' : `${rate}/s (tc tbf)`} | ${before.toFixed(2)} s | ${now.toFixed(2)} s | ${(before / now).toFixed(2)}× |`);
  }
}

const innerRate = option('--inner');
const innerLayout = option('--layout');
if (innerRate !== undefined && innerLayout !== undefined) await inner(innerRate, innerLayout);
else await main();
