// bench/pull: pull + unpack of a realistic image from a loopback registry, ocinit against
// `skopeo copy` + `umoci unpack`, alternating, several runs each, in one invocation, each run on a
// file system of its own: a fresh ext4 on a loop device (disk) and a fresh tmpfs (RAM). Needs root.
//   node_modules/.bin/node bench/pull.ts [--runs N] [--skip-large]
// Inputs are built once and cached under build/bench/ (a debootstrap minbase root filesystem made
// from the Debian mirror apt is configured with, and OCI layouts of it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { pushLayout, sha256 } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';
import { median } from './stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BENCH = join(ROOT, 'build', 'bench');
const ROOTFS = join(BENCH, 'rootfs');
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5;
const SKIP_LARGE = args.includes('--skip-large');

function sh(command: string, options: { cwd?: string } = {}): string {
  return execFileSync('sh', ['-c', command], { cwd: options.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** The first `deb` mirror and suite apt is configured with (deb822 .sources or one-line lists). */
function aptMirror(): { uri: string; suite: string } {
  const files = ['/etc/apt/sources.list', ...readdirSync('/etc/apt/sources.list.d').map((name) => join('/etc/apt/sources.list.d', name))].filter((path) => existsSync(path));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
        const uri = field('URIs')?.split(/\s+/)[0];
        const suite = field('Suites')?.split(/\s+/)[0];
        if (field('Types')?.split(/\s+/).includes('deb') && uri !== undefined && suite !== undefined && !suite.includes('security')) return { uri, suite };
      }
    } else {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/m.exec(text);
      if (match?.[1] !== undefined && match[2] !== undefined) return { uri: match[1], suite: match[2] };
    }
  }
  throw new Error('no Debian mirror found in /etc/apt/sources.list{,.d}');
}

function ensureRootfs(): void {
  if (existsSync(ROOTFS)) return;
  const { uri, suite } = aptMirror();
  console.log(`building ${ROOTFS} with debootstrap --variant=minbase ${suite} ${uri} (once)`);
  rmSync(`${ROOTFS}.tmp`, { recursive: true, force: true });
  execFileSync('debootstrap', ['--variant=minbase', suite, `${ROOTFS}.tmp`, uri], { stdio: 'inherit' });
  renameSync(`${ROOTFS}.tmp`, ROOTFS);
}

interface LayerPlan {
  name: string;
  /** Shell command writing an uncompressed tar on stdout. */
  tar: string;
}

/** Writes an OCI layout whose layers are the given tars, gzip-compressed; cached by name. */
function ensureLayout(name: string, layers: LayerPlan[]): string {
  const layout = join(BENCH, name);
  if (existsSync(join(layout, 'index.json'))) return layout;
  console.log(`building the OCI layout ${layout} (once)`);
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const descriptors: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  for (const layer of layers) {
    const tarPath = join(layout, `${layer.name}.tar`);
    sh(`(${layer.tar}) > ${tarPath}`);
    diffIds.push(`sha256:${sh(`sha256sum < ${tarPath}`).split(' ')[0] ?? ''}`);
    sh(`gzip -n -6 < ${tarPath} > ${tarPath}.gz`);
    const digest = `sha256:${sh(`sha256sum < ${tarPath}.gz`).split(' ')[0] ?? ''}`;
    const size = statSync(`${tarPath}.gz`).size;
    renameSync(`${tarPath}.gz`, join(blobs, digest.slice(7)));
    rmSync(tarPath);
    descriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size });
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/bash'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
  writeFileSync(join(blobs, sha256(config).slice(7)), config);
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: descriptors }),
  );
  writeFileSync(join(blobs, sha256(manifest).slice(7)), manifest);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }),
  );
  return layout;
}

const TAR = 'tar --numeric-owner --xattrs --xattrs-include=security.capability --sort=name -C';
const DEBIAN_LAYERS: LayerPlan[] = [
  { name: 'usr', tar: `${TAR} ${ROOTFS} -cf - ./usr` },
  { name: 'var', tar: `${TAR} ${ROOTFS} -cf - ./var` },
  { name: 'rest', tar: `${TAR} ${ROOTFS} --exclude=./usr --exclude=./var -cf - .` },
];
// The larger image: the same root filesystem plus 1.5 GB of incompressible data in big and small files.
const LARGE_LAYERS: LayerPlan[] = [
  ...DEBIAN_LAYERS,
  {
    name: 'data',
    tar: `d=$(mktemp -d) && mkdir -p $d/data/small && head -c 1200000000 /dev/urandom > $d/data/big.bin && for i in $(seq 1 3000); do head -c 100000 /dev/urandom > $d/data/small/$i; done && ${TAR} $d -cf - ./data; rm -rf $d`,
  },
];

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

type FileSystemKind = 'ext4' | 'tmpfs';

/**
 * Runs `work` on a file system made for it alone and discarded after: a fresh ext4 on a sparse file
 * attached to a loop device (the disk case: a cache device), or a fresh tmpfs (the RAM case: what the
 * initramfs unpacks into without one). Every run of either tool starts from the same empty file
 * system, so no run pays for what an earlier one left behind (ext4 allocates inodes more slowly
 * after a large tree was deleted, which slowed whichever tool ran next).
 */
function onFreshFileSystem<T>(kind: FileSystemKind, sizeBytes: number, mountPoint: string, work: (dir: string) => T): T {
  mkdirSync(mountPoint, { recursive: true });
  let device: string | undefined;
  const image = `${mountPoint}.img`;
  if (kind === 'tmpfs') execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'bench', mountPoint]);
  else {
    rmSync(image, { force: true });
    execFileSync('truncate', ['-s', String(sizeBytes), image]);
    // Inode tables and journal written now: lazy init would zero them in the background during the run.
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
    device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    execFileSync('mount', ['-t', 'ext4', device, mountPoint]);
  }
  try {
    execFileSync('sync');
    return work(mountPoint);
  } finally {
    execFileSync('umount', [mountPoint]);
    if (device !== undefined) execFileSync('losetup', ['-d', device]);
    rmSync(image, { force: true });
  }
}

function ensureLoopDevices(): void {
  if (existsSync('/dev/loop-control')) return;
  execFileSync('modprobe', ['loop']);
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
  const cli = join(BENCH, 'ocinit-cli.mjs');
  await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile: cli,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
  });
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
        const ocinit = (): void => {
          row.ours.push(onFreshFileSystem(fs, fsBytes, mountPoint, (dir) => timed([node, cli, 'pull', '--tls-verify=false', '--store', join(dir, 'store'), reference, join(dir, 'rootfs')])));
        };
        const peer = (): void => {
          row.peer.push(
            onFreshFileSystem(fs, fsBytes, mountPoint, (dir) => {
              const skopeo = timed(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${reference}`, `oci:${join(dir, 'oci')}:v1`]);
              const umoci = timed(['umoci', 'unpack', '--image', `${join(dir, 'oci')}:v1`, join(dir, 'bundle')]);
              return { seconds: skopeo.seconds + umoci.seconds, cpuSeconds: skopeo.cpuSeconds + umoci.cpuSeconds, maxRssKb: Math.max(skopeo.maxRssKb, umoci.maxRssKb) };
            }),
          );
        };
        for (let run = 0; run < runs; run++) {
          // Alternate which tool goes first, so that a drift in machine load is shared out evenly.
          if (run % 2 === 0) {
            ocinit();
            peer();
          } else {
            peer();
            ocinit();
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
