// bench/run: boot to the first output of a container pulled from a registry on loopback (the busybox
// demo image), median of several boots, split into its parts: kernel to /init, /init to the
// launcher, launcher to the network, pull, unpack, bundle, crun start. Compare /init with the bare
// busybox floor of bench/boot (docs/performance.md).
// With --arch arm64: the arm64 initramfs in qemu-system-aarch64 (TCG) and the demo image built from
// Debian's arm64 busybox (the sysroot of make initrd ARCH=arm64).
// usage: bench/run [--runs N] [--accel auto|kvm|tcg] [--arch x86_64|arm64]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { demoImageSpec } from '../qemu/demo-image.ts';
import { boot, qemuBinary, REPO_ROOT, type Accel } from '../qemu/harness.ts';
import { ARCHES, defaultSysroot, describeTarget, parseArch } from '../initrd/target.ts';
import { buildImageLayout, pushLayout } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';
import { consoleNumber, median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, accel: { type: 'string', default: 'auto' }, arch: { type: 'string', default: 'x86_64' } } });
const runs = Number.parseInt(values.runs ?? '5', 10);
const accel = (values.accel ?? 'auto') as Accel;
const arch = parseArch(values.arch ?? 'x86_64');
if (arch === undefined) throw new Error(`--arch wants ${ARCHES.join(' or ')}, not '${values.arch}'`);
const sysroot = resolve(REPO_ROOT, defaultSysroot(arch));
const busybox = { path: join(sysroot, 'bin/busybox'), emulator: describeTarget(arch, sysroot).emulator };

const registry = await startRegistry();
const work = mkdtempSync(join(tmpdir(), 'ocinit-bench-run-'));
const parts = ['init', 'launcher', 'network', 'pullStart', 'pullAndUnpack', 'bundle', 'crunStart', 'firstOutput'] as const;
const samples = Object.fromEntries(parts.map((part) => [part, [] as number[]])) as Record<(typeof parts)[number], number[]>;
let accelUsed = '';
try {
  await buildImageLayout(join(work, 'layout'), 'latest', { ...demoImageSpec({}, busybox), architecture: arch === 'arm64' ? 'arm64' : 'amd64' });
  const reference = (await pushLayout(join(work, 'layout'), 'latest', registry, { name: 'ocinit/demo' })).replace(/^127\.0\.0\.1:/, '10.0.2.2:');
  // The container prints the uptime first thing: the same clock as the kernel's and the launcher's timestamps.
  const append = ['loglevel=7', `b2c.container="--tls-verify=false ${reference} cat /proc/uptime"`];
  for (let run = 0; run < runs; run++) {
    const result = await boot({ arch, append, accel, timeoutSeconds: 300 });
    const text = result.console;
    const crunLine = consoleNumber(text, /\[(\d+\.\d+)\]: \$ crun run/);
    const sample = {
      init: consoleNumber(text, /\[\s*(\d+\.\d+)\] Run \/init as init process/),
      launcher: consoleNumber(text, /\[(\d+\.\d+)\]: ocinit \S+: launcher started/),
      network: consoleNumber(text, /\[(\d+\.\d+)\]: Network ready in/),
      pullStart: consoleNumber(text, /\[(\d+\.\d+)\]: Run all the cmdline-specified containers: pulling and verifying/),
      // A fresh pull unpacks while it downloads: one figure for both.
      pullAndUnpack: consoleNumber(text, /downloaded and unpacked in (\d+\.\d+) s/),
      bundle: crunLine - consoleNumber(text, /\[(\d+\.\d+)\]: Pull, create, and init the container: b2c\.container #1: /),
      crunStart: consoleNumber(text, /^(\d+\.\d+) \d+\.\d+\r?$/m) - crunLine,
      firstOutput: consoleNumber(text, /^(\d+\.\d+) \d+\.\d+\r?$/m),
    };
    for (const part of parts) samples[part].push(sample[part]);
    accelUsed = result.accel;
    process.stderr.write(`run ${run + 1}/${runs}: first container output at ${sample.firstOutput.toFixed(2)} s (pull + unpack ${sample.pullAndUnpack.toFixed(2)} s, crun start ${sample.crunStart.toFixed(2)} s)\n`);
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}

const m = Object.fromEntries(parts.map((part) => [part, median(samples[part])])) as Record<(typeof parts)[number], number>;
const qemuVersion = spawnSync(qemuBinary(arch), ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const crunVersion = spawnSync('crun', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const lines = [
  `${arch}: machine ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ${qemuVersion}; ${crunVersion}; accel ${accelUsed}; image: busybox-static demo (1 layer, 1.1 MB gzip); ${runs} boots, medians`,
  '',
  '| step | at (s since kernel start) | takes (s) |',
  '|---|---|---|',
  `| kernel → /init | ${m.init.toFixed(2)} | ${m.init.toFixed(2)} |`,
  `| /init → launcher's first line | ${m.launcher.toFixed(2)} | ${(m.launcher - m.init).toFixed(2)} |`,
  `| → network ready (drivers, DHCP) | ${m.network.toFixed(2)} | ${(m.network - m.launcher).toFixed(2)} |`,
  `| → pull phase starts | ${m.pullStart.toFixed(2)} | ${(m.pullStart - m.network).toFixed(2)} |`,
  `| pull + unpack, overlapped (resolve, download, verify, unpack) | | ${m.pullAndUnpack.toFixed(2)} |`,
  `| bundle (overlay mount, user, config.json) | | ${m.bundle.toFixed(2)} |`,
  `| crun start (\`crun run\` → the container's first output) | | ${m.crunStart.toFixed(2)} |`,
  `| **first container output** | **${m.firstOutput.toFixed(2)}** | |`,
];
process.stdout.write(`${lines.join('\n')}\n`);
