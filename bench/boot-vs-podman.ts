// bench/boot-vs-podman: boot to the end of a container job, ocinit's initramfs (make initrd) against
// a boot2container-like podman initramfs (bench/podman-initrd/), same kernel, same QEMU flags, same
// loopback registry and image, booted alternately, N boots each. Two images: the 1 MB busybox demo
// and a Debian minbase root filesystem in two layers (~120 MB unpacked). Both run `cat /proc/uptime`.
// Prints medians of guest uptime and the ratios (issue 18's targets: 1.5× for the small job, 3× for
// the Debian image, ocinit's first line at most 0.5 s after the comparator's /init).
// usage: bench/boot-vs-podman [--runs N] [--accel auto|kvm|tcg] [--mem MiB] [--skip-large] [--modules DIR]
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { demoImageSpec } from '../qemu/demo-image.ts';
import { boot, defaultInitrd, qemuBinary, REPO_ROOT, type Accel } from '../qemu/harness.ts';
import { buildImageLayout, pushLayout } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';
import { comparatorMarks, ocinitMarks, type BootMarks } from './boot-vs-podman-markers.ts';
import { BENCH, DEBIAN_APT_CACHES, DEBIAN_TWO_LAYERS, ensureLayout, ensureRootfs, ROOTFS, sh } from './inputs.ts';
import { buildPodmanInitrd } from './podman-initrd/build.ts';
import { consoleNumber, median } from './stats.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    accel: { type: 'string', default: 'auto' },
    mem: { type: 'string', default: '1024' },
    'skip-large': { type: 'boolean', default: false },
    modules: { type: 'string' },
  },
});
const runs = Number.parseInt(values.runs ?? '3', 10);
const memMiB = Number.parseInt(values.mem ?? '1024', 10);
const accel = (values.accel ?? 'auto') as Accel;
if (!(runs > 0) || !(memMiB > 0)) throw new Error('--runs and --mem want positive whole numbers');
const kernelModules = join(REPO_ROOT, 'build/kernel/modules');
const modulesDir = values.modules ?? join(kernelModules, readdirSync(kernelModules)[0] ?? '');

interface Sample {
  kernelInit: number;
  marks: BootMarks;
}
interface Row {
  image: string;
  ocinit: Sample[];
  podman: Sample[];
}

// The last console of each kind, to read when a figure looks wrong.
const consoles = join(BENCH, 'boot-vs-podman');
mkdirSync(consoles, { recursive: true });
const keep = (name: string, text: string): void => writeFileSync(join(consoles, `${name}.log`), text);
const load = (): string => loadavg().map((value) => value.toFixed(2)).join(' ');
const loadBefore = load();
const comparator = await buildPodmanInitrd(modulesDir, join(BENCH, 'podman-initrd.cpio.zst'));
const ocinitInitrd = defaultInitrd();
const registry = await startRegistry();
const rows: Row[] = [];
let accelUsed = '';
const failedBoots: string[] = [];
try {
  const images: { label: string; reference: string }[] = [];
  const demoLayout = join(BENCH, 'layout-demo');
  await buildImageLayout(demoLayout, 'latest', demoImageSpec());
  images.push({ label: 'busybox demo (1 layer, 1.1 MB gzip)', reference: await pushLayout(demoLayout, 'latest', registry, { name: 'bench/demo' }) });
  if (values['skip-large'] !== true) {
    ensureRootfs();
    const layout = ensureLayout('layout-debian-two-layers', DEBIAN_TWO_LAYERS);
    const blobs = join(layout, 'blobs', 'sha256');
    const layerBytes = readdirSync(blobs).reduce((sum, name) => sum + statSync(join(blobs, name)).size, 0);
    const unpacked = sh(`du -sm --apparent-size ${DEBIAN_APT_CACHES.map((path) => `--exclude=${ROOTFS}${path}`).join(' ')} ${ROOTFS}`).split('\t')[0] ?? '?';
    images.push({ label: `Debian minbase (2 layers, ${(layerBytes / 1e6).toFixed(0)} MB gzip, ${unpacked} MB unpacked)`, reference: await pushLayout(layout, 'v1', registry, { name: 'bench/debian' }) });
  }
  // loglevel=7: the kernel prints "Run /init as init process" (the same clock as /proc/uptime) for both.
  const common = { accel, memMiB, timeoutSeconds: 300 } as const;
  for (const image of images) {
    const { label, reference } = image;
    const guestReference = reference.replace(/^127\.0\.0\.1:/, '10.0.2.2:');
    const row: Row = { image: label, ocinit: [], podman: [] };
    // A boot that ends without its markers (once: an RCU stall of the TCG guest in the comparator
    // at 11:20) is kept aside and booted again, once; the figures count only complete boots.
    const measure = async (tool: 'ocinit' | 'podman'): Promise<Sample> => {
      const options = tool === 'ocinit' ? { append: ['loglevel=7', `b2c.container="--tls-verify=false ${guestReference} cat /proc/uptime"`] } : { initrd: comparator.file, append: ['loglevel=7', `podman.image=${guestReference}`] };
      for (let attempt = 1; ; attempt++) {
        const result = await boot({ ...common, ...options });
        const name = `${tool}-${images.indexOf(image)}`;
        keep(name, result.console);
        try {
          if (tool === 'ocinit') accelUsed = result.accel;
          return { kernelInit: consoleNumber(result.console, /\[\s*(\d+\.\d+)\] Run \/init as init process/), marks: tool === 'ocinit' ? ocinitMarks(result.console) : comparatorMarks(result.console) };
        } catch (error) {
          failedBoots.push(`${tool}, ${label}${result.timedOut ? ', timed out' : ''}`);
          keep(`${name}-failed-${failedBoots.length}`, result.console);
          if (attempt === 2) throw error;
          process.stderr.write(`${label}: a ${tool} boot ended without its markers (kept as ${name}-failed-${failedBoots.length}.log): booting it again\n`);
        }
      }
    };
    const ours = async (): Promise<void> => {
      row.ocinit.push(await measure('ocinit'));
    };
    const theirs = async (): Promise<void> => {
      row.podman.push(await measure('podman'));
    };
    for (let run = 0; run < runs; run++) {
      // Alternate which goes first, so that a drift in machine load is shared out evenly.
      for (const step of run % 2 === 0 ? [ours, theirs] : [theirs, ours]) await step();
      const o = row.ocinit.at(-1)?.marks;
      const p = row.podman.at(-1)?.marks;
      for (const marks of [o, p]) if (marks !== undefined && marks.status !== 0) throw new Error(`${label}: a job ended with status ${marks.status}`);
      process.stderr.write(`${label} run ${run + 1}/${runs}: pipeline end ocinit ${o?.pipelineEnd.toFixed(2)} s, podman ${p?.pipelineEnd.toFixed(2)} s; load ${load()}\n`);
    }
    rows.push(row);
  }
} finally {
  await registry.stop();
}

const f = (value: number): string => value.toFixed(2);
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const qemuVersion = sh(`${qemuBinary()} --version`).split('\n')[0];
const podmanVersion = sh('podman --version').trim();
const lines = [
  `machine ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ${qemuVersion}; accel ${accelUsed}; ${memMiB} MiB guest; ${podmanVersion}; ${runs} boots each, alternating, medians (s of guest uptime)`,
  `boots without their markers, booted again: ${failedBoots.length === 0 ? 'none' : failedBoots.join('; ')}`,
  `load average before ${loadBefore}, after ${load()}; initramfs: ocinit ${mib(statSync(ocinitInitrd).size)}, comparator ${mib(comparator.bytes)} (${mib(comparator.uncompressedBytes)} cpio)`,
  '',
  '| image | measure | podman initramfs | ocinit | ratio / gap |',
  '|---|---|---|---|---|',
];
for (const row of rows) {
  const m = (samples: Sample[], pick: (sample: Sample) => number): number => median(samples.map(pick));
  const podmanInit = m(row.podman, (s) => s.marks.start);
  const ocinitFirst = m(row.ocinit, (s) => s.marks.start);
  const podmanEnd = m(row.podman, (s) => s.marks.pipelineEnd);
  const ocinitEnd = m(row.ocinit, (s) => s.marks.pipelineEnd);
  lines.push(
    `| ${row.image} | kernel's "Run /init" | ${f(m(row.podman, (s) => s.kernelInit))} | ${f(m(row.ocinit, (s) => s.kernelInit))} | |`,
    `| | comparator's /init vs ocinit's first line | ${f(podmanInit)} | ${f(ocinitFirst)} | ${ocinitFirst - podmanInit >= 0 ? '+' : ''}${f(ocinitFirst - podmanInit)} s |`,
    `| | network ready | ${f(m(row.podman, (s) => s.marks.networkReady))} | ${f(m(row.ocinit, (s) => s.marks.networkReady))} | |`,
    `| | **pipeline end** | ${f(podmanEnd)} | ${f(ocinitEnd)} | **${(podmanEnd / ocinitEnd).toFixed(2)}×** |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
