// bench/drivers: what full driver coverage costs. Builds the DRIVERS=qemu initramfs beside the
// DRIVERS=all one (build/initrd.cpio.zst, from make initrd) from the same inputs, then boots them
// alternating on the same kernel and QEMU: time to /init and to the launcher's first line, medians.
// usage: bench/drivers [--runs N] [--accel auto|kvm|tcg]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { boot, defaultInitrd, REPO_ROOT, type Accel } from '../qemu/harness.ts';
import { consoleNumber, median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, accel: { type: 'string', default: 'auto' } } });
const runs = Number.parseInt(values.runs ?? '5', 10);
const accel = (values.accel ?? 'auto') as Accel;

const kernelModules = join(REPO_ROOT, 'build/kernel/modules');
const version = readdirSync(kernelModules)[0];
if (version === undefined) throw new Error('build/kernel/modules is empty: run make initrd first');
const small = join(REPO_ROOT, 'build/bench/drivers-qemu/initrd.cpio.zst');
const built = spawnSync(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'initrd/build.ts'), '--modules', join(kernelModules, version), '--out', small, '--drivers', 'qemu'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
if (built.status !== 0) throw new Error('building the DRIVERS=qemu initramfs failed');
process.stderr.write(built.stdout);
const sizeOf = (file: string): { compressed: number; uncompressed: number } => ({ compressed: statSync(file).size, uncompressed: statSync(file.replace(/\.zst$/, '')).size });

const variants = [
  { name: 'DRIVERS=qemu', initrd: small },
  { name: 'DRIVERS=all', initrd: defaultInitrd() },
];
const samples = variants.map(() => ({ init: [] as number[], firstLine: [] as number[], drivers: [] as number[] }));
const append = ['loglevel=7'];
let accelUsed = '';
for (let run = 0; run < runs; run++) {
  for (const [index, variant] of variants.entries()) {
    const result = await boot({ initrd: variant.initrd, append, accel, timeoutSeconds: 180 });
    accelUsed = result.accel;
    const init = consoleNumber(result.console, /\[\s*(\d+\.\d+)\] Run \/init as init process/);
    const first = consoleNumber(result.console, /\[(\d+\.\d+)\]: ocinit \S+: launcher started/);
    const drivers = consoleNumber(result.console, /\[(\d+\.\d+)\]: Drivers loaded for the hardware present/);
    samples[index]?.init.push(init);
    samples[index]?.firstLine.push(first);
    samples[index]?.drivers.push(drivers);
    process.stderr.write(`run ${run + 1}/${runs} ${variant.name}: /init ${init.toFixed(2)} s, first line ${first.toFixed(2)} s, drivers loaded ${drivers.toFixed(2)} s\n`);
  }
}

const qemuVersion = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const [q, a] = samples.map((sample) => ({ init: median(sample.init), firstLine: median(sample.firstLine), drivers: median(sample.drivers) }));
const [qs, as] = variants.map((variant) => sizeOf(variant.initrd));
if (q === undefined || a === undefined || qs === undefined || as === undefined) throw new Error('no samples');
const lines = [
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ${qemuVersion}; accel ${accelUsed}; ${runs} boots each, alternating, medians`,
  '',
  '| measure | DRIVERS=qemu | DRIVERS=all | ratio |',
  '|---|---|---|---|',
  `| initramfs, zstd -19 | ${mib(qs.compressed)} | ${mib(as.compressed)} | ${(as.compressed / qs.compressed).toFixed(2)} |`,
  `| initramfs, uncompressed | ${mib(qs.uncompressed)} | ${mib(as.uncompressed)} | ${(as.uncompressed / qs.uncompressed).toFixed(2)} |`,
  `| time to /init (s since kernel start) | ${q.init.toFixed(2)} | ${a.init.toFixed(2)} | ${(a.init / q.init).toFixed(2)} |`,
  `| launcher's first line (s since kernel start) | ${q.firstLine.toFixed(2)} | ${a.firstLine.toFixed(2)} | ${(a.firstLine / q.firstLine).toFixed(2)} |`,
  `| drivers loaded (s since kernel start) | ${q.drivers.toFixed(2)} | ${a.drivers.toFixed(2)} | ${(a.drivers / q.drivers).toFixed(2)} |`,
];
process.stdout.write(`${lines.join('\n')}\n`);
