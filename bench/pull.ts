// bench/pull: pull + unpack of a realistic image from a loopback registry, ocinit against
// `skopeo copy` + `umoci unpack`, alternating, several runs each, in one invocation, each run on a
// file system of its own: a fresh ext4 on a loop device (disk) and a fresh tmpfs (RAM). Needs root.
//   node_modules/.bin/node bench/pull.ts [--runs N] [--skip-large]
// Inputs are built once and cached under build/bench/ (a debootstrap minbase root filesystem made
// from the Debian mirror apt is configured with, and OCI layouts of it).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { pushLayout } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';
import { BENCH, DEBIAN_LAYERS, ensureLayout, ensureLoopDevices, ensureRootfs, LARGE_LAYERS, onFreshFileSystem, ROOT, sh, type FileSystemKind } from './inputs.ts';
import { median } from './stats.ts';

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5;
const SKIP_LARGE = args.includes('--skip-large');

interface Sample {
  seconds: number;
  /** User + system CPU time: less sensitive than wall time to other load on a shared machine. */
  cpuSeconds: number;
  maxRssKb: number;
}

/** Runs a command under /usr/bin/time -v: wall time and peak RSS (of the largest process). */
function timed(argv: string[]): Sample {
  const started = performance.now();
  const result = spawnSync('/usr/bin/time', ['-v', ...argv], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)?.[1];
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(result.stderr)?.[1] ?? 0);
  const system = Number(/System time \(seconds\): ([\d.]+)/.exec(result.stderr)?.[1] ?? 0);
  return { seconds, cpuSeconds: user + system, maxRssKb: Number(rss ?? 0) };
}

interface Row {
  image: string;
  fs: FileSystemKind;
  runs: number;
  ours: Sample[];
  peer: Sample[];
}

const seconds = (value: number): string => `${value.toFixed(2)} s`;
const megabytes = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

function summary(row: Row): string[] {
  const oursWall = median(row.ours.map((sample) => sample.seconds));
  const peerWall = median(row.peer.map((sample) => sample.seconds));
  const oursCpu = median(row.ours.map((sample) => sample.cpuSeconds));
  const peerCpu = median(row.peer.map((sample) => sample.cpuSeconds));
  return [
    row.image,
    String(row.runs),
    `${seconds(oursWall)}, CPU ${seconds(oursCpu)}`,
    `${seconds(peerWall)}, CPU ${seconds(peerCpu)}`,
    `${(peerWall / oursWall).toFixed(2)}× (CPU ${(peerCpu / oursCpu).toFixed(2)}×)`,
    megabytes(Math.max(...row.ours.map((sample) => sample.maxRssKb))),
    megabytes(Math.max(...row.peer.map((sample) => sample.maxRssKb))),
  ];
}

function printTables(rows: Row[]): void {
  for (const fs of ['ext4', 'tmpfs'] as const) {
    const selected = rows.filter((row) => row.fs === fs);
    if (selected.length === 0) continue;
    console.log(`\n${fs === 'ext4' ? 'fresh ext4 on a loop device per run (disk)' : 'fresh tmpfs per run (RAM)'}: medians`);
    console.log('| image | runs | ocinit | skopeo + umoci | ratio | ocinit peak RSS | peer peak RSS |');
    console.log('|---|---|---|---|---|---|---|');
    for (const row of selected) console.log(`| ${summary(row).join(' | ')} |`);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/pull mounts a fresh file system for every run: run it as root');
  ensureLoopDevices();
  mkdirSync(BENCH, { recursive: true });
  ensureRootfs();
  const layouts = [{ label: 'debian-minbase', layout: ensureLayout('layout-debian', DEBIAN_LAYERS) }];
  if (!SKIP_LARGE) layouts.push({ label: 'debian+1.5GB', layout: ensureLayout('layout-large', LARGE_LAYERS) });
  // The CLI exactly as it ships: dist/cli.js, bundled by build.mjs with the same options as always.
  execFileSync(process.execPath, [join(ROOT, 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const cli = join(ROOT, 'dist', 'cli.js');
  const node = process.execPath;
  const registry = await startRegistry();
  const scratch = mkdtempSync(join(BENCH, 'run-'));
  const mountPoint = join(scratch, 'fs');
  const rows: Row[] = [];
  try {
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 1e9).toFixed(1)} GB RAM; node ${process.version}; ${sh('skopeo --version').trim()}; ${sh('umoci --version').trim()}`);
    for (const { label, layout } of layouts) {
      const reference = await pushLayout(layout, 'v1', registry, { name: `bench/${label.replace(/[^a-z0-9-]/g, '')}` });
      const blobBytes = readdirSync(join(layout, 'blobs', 'sha256')).reduce((sum, name) => sum + statSync(join(layout, 'blobs', 'sha256', name)).size, 0);
      // Room for the blobs and the unpacked tree, twice over.
      const fsBytes = Math.ceil((4 * blobBytes + 2e9) / 2 ** 30) * 2 ** 30;
      const runs = label === 'debian-minbase' ? RUNS : Math.min(RUNS, 3);
      console.log(`${label}: ${(blobBytes / 1e6).toFixed(0)} MB of blobs, ${runs} runs of each tool per file system`);
      for (const fs of ['ext4', 'tmpfs'] as const) {
        const row: Row = { image: label, fs, runs, ours: [], peer: [] };
        const ocinit = async (): Promise<void> => {
          row.ours.push(await onFreshFileSystem(fs, fsBytes, mountPoint, (dir) => timed([node, cli, 'pull', '--tls-verify=false', '--store', join(dir, 'store'), reference, join(dir, 'rootfs')])));
        };
        const peer = async (): Promise<void> => {
          row.peer.push(
            await onFreshFileSystem(fs, fsBytes, mountPoint, (dir) => {
              const skopeo = timed(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${reference}`, `oci:${join(dir, 'oci')}:v1`]);
              const umoci = timed(['umoci', 'unpack', '--image', `${join(dir, 'oci')}:v1`, join(dir, 'bundle')]);
              return { seconds: skopeo.seconds + umoci.seconds, cpuSeconds: skopeo.cpuSeconds + umoci.cpuSeconds, maxRssKb: Math.max(skopeo.maxRssKb, umoci.maxRssKb) };
            }),
          );
        };
        for (let run = 0; run < runs; run++) {
          // Alternate which tool goes first, so that a drift in machine load is shared out evenly.
          if (run % 2 === 0) {
            await ocinit();
            await peer();
          } else {
            await peer();
            await ocinit();
          }
          const ours = row.ours.at(-1);
          const theirs = row.peer.at(-1);
          const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
          console.log(
            `  ${label} on ${fs}, run ${run + 1}: ocinit ${seconds(ours?.seconds ?? 0)} (cpu ${seconds(ours?.cpuSeconds ?? 0)}, ${megabytes(ours?.maxRssKb ?? 0)} RSS), skopeo+umoci ${seconds(theirs?.seconds ?? 0)} (cpu ${seconds(theirs?.cpuSeconds ?? 0)}); load ${load}`,
          );
        }
        rows.push(row);
      }
    }
    printTables(rows);
  } finally {
    await registry.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
