// bench/pull: pull + unpack of a realistic image from a loopback registry, ocinit against
// `skopeo copy` + `umoci unpack`, alternating, several runs each, in one invocation.
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

/**
 * An empty directory, with the previous run's tree deleted *and flushed*: ext4 skips inodes whose
 * deletion is still dirty in the buffer cache when it allocates new ones, which slowed whichever
 * tool ran right after a deletion by ~200 µs per file created.
 */
function fresh(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  execFileSync('sync');
  mkdirSync(dir);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

async function main(): Promise<void> {
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
  try {
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 1e9).toFixed(1)} GB RAM; node ${process.version}; ${sh('skopeo --version').trim()}; ${sh('umoci --version').trim()}`);
    for (const { label, layout } of layouts) {
      const reference = await pushLayout(layout, 'v1', registry, { name: `bench/${label.replace(/[^a-z0-9-]/g, '')}` });
      const blobBytes = readdirSync(join(layout, 'blobs', 'sha256')).reduce((sum, name) => sum + statSync(join(layout, 'blobs', 'sha256', name)).size, 0);
      const runs = label === 'debian-minbase' ? RUNS : Math.min(RUNS, 3);
      const ours: Sample[] = [];
      const peer: Sample[] = [];
      for (let run = 0; run < runs; run++) {
        fresh(join(scratch, 'x'));
        ours.push(timed([node, cli, 'pull', '--tls-verify=false', '--store', join(scratch, 'x', 'store'), reference, join(scratch, 'x', 'rootfs')]));
        fresh(join(scratch, 'x'));
        const skopeo = timed(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${reference}`, `oci:${join(scratch, 'x', 'oci')}:v1`]);
        const umoci = timed(['umoci', 'unpack', '--image', `${join(scratch, 'x', 'oci')}:v1`, join(scratch, 'x', 'bundle')]);
        peer.push({ seconds: skopeo.seconds + umoci.seconds, cpuSeconds: skopeo.cpuSeconds + umoci.cpuSeconds, maxRssKb: Math.max(skopeo.maxRssKb, umoci.maxRssKb) });
        const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
        console.log(
          `  ${label} run ${run + 1}: ocinit ${ours.at(-1)?.seconds.toFixed(2)} s (cpu ${ours.at(-1)?.cpuSeconds.toFixed(2)} s, ${((ours.at(-1)?.maxRssKb ?? 0) / 1024).toFixed(0)} MB RSS), skopeo+umoci ${peer.at(-1)?.seconds.toFixed(2)} s (cpu ${peer.at(-1)?.cpuSeconds.toFixed(2)} s); load ${load}`,
        );
      }
      rmSync(join(scratch, 'x'), { recursive: true, force: true });
      const oursMedian = median(ours.map((sample) => sample.seconds));
      const peerMedian = median(peer.map((sample) => sample.seconds));
      console.log(
        `${label}: ${(blobBytes / 1e6).toFixed(0)} MB of blobs, ${runs} runs each | ocinit median ${oursMedian.toFixed(2)} s (cpu ${median(ours.map((sample) => sample.cpuSeconds)).toFixed(2)} s), peak RSS ${(Math.max(...ours.map((sample) => sample.maxRssKb)) / 1024).toFixed(0)} MB | skopeo+umoci median ${peerMedian.toFixed(2)} s (cpu ${median(peer.map((sample) => sample.cpuSeconds)).toFixed(2)} s) | ratio ${(peerMedian / oursMedian).toFixed(2)}×`,
      );
    }
  } finally {
    await registry.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
