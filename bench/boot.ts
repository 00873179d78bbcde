// bench/boot: boot time of ocinit's initramfs beside a bare busybox initramfs (the floor) on the
// same kernel and QEMU, in one run, alternating, and beside Node alone (the shipped binary and its
// libraries in a plain cpio, a one-line script run by /init): the least any Node launcher's first
// line can cost after /init. Prints medians and ratios, one table per architecture:
// `--arch x86_64 --arch arm64` measures both side by side (arm64 under qemu-system-aarch64 TCG,
// the images of make initrd ARCH=arm64).
// usage: bench/boot [--runs N] [--accel auto|kvm|tcg] [--arch x86_64|arm64]...
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCpio, type CpioEntry } from '../initrd/cpio.ts';
import { boot, defaultInitrd, defaultKernel, qemuBinary, REPO_ROOT, type Accel } from '../qemu/harness.ts';
import { sharedLibraries } from '../initrd/libraries.ts';
import { ARCHES, buildDir, buildHostArch, defaultSysroot, describeTarget, parseArch, type Arch } from '../initrd/target.ts';
import { consoleNumber, median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, accel: { type: 'string', default: 'auto' }, arch: { type: 'string', multiple: true } } });
const runs = Number.parseInt(values.runs ?? '5', 10);
const accel = (values.accel ?? 'auto') as Accel;
const arches = (values.arch ?? ['x86_64']).map((text): Arch => {
  const arch = parseArch(text);
  if (arch === undefined) throw new Error(`--arch wants ${ARCHES.join(' or ')}, not '${text}'`);
  return arch;
});

/** The floors' shared skeleton: static busybox as /bin/busybox, /dev/console, /proc, and `init` as /init. */
function floorEntries(arch: Arch, init: string): CpioEntry[] {
  const busybox = join(resolve(REPO_ROOT, defaultSysroot(arch)), 'bin/busybox');
  return [
    { type: 'directory', path: '/bin', mode: 0o755 },
    { type: 'file', path: '/bin/busybox', mode: 0o755, source: busybox, size: statSync(busybox).size },
    { type: 'directory', path: '/dev', mode: 0o755 },
    { type: 'char-device', path: '/dev/console', mode: 0o600, major: 5, minor: 1 },
    { type: 'inline', path: '/init', mode: 0o755, data: Buffer.from(init) },
    { type: 'directory', path: '/proc', mode: 0o755 },
  ];
}

async function writeFloor(file: string, entries: readonly CpioEntry[]): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const stream = createWriteStream(file);
  await writeCpio(entries, stream, 0);
  await new Promise<void>((resolve) => stream.end(resolve));
}

/** The floor: busybox alone (the architecture's own, static), whose /init prints the uptime and powers off. */
async function buildFloor(arch: Arch): Promise<string> {
  const cpioFile = join(REPO_ROOT, buildDir(arch), 'bench', 'floor.cpio');
  const init = '#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\necho "floor-init-at $(/bin/busybox cut -d" " -f1 /proc/uptime)"\n/bin/busybox poweroff -f\n';
  await writeFloor(cpioFile, floorEntries(arch, init));
  const out = `${cpioFile}.zst`;
  const fd = openSync(out, 'w');
  spawnSync('zstd', ['-q', '-c', '-19', cpioFile], { stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  return out;
}

/** A one-line script that prints the uptime at its first statement, tagged `tag`. */
const nodeStatement = (tag: string): string => `'process.stdout.write("${tag} " + require("fs").readFileSync("/proc/uptime", "utf8").split(" ")[0] + "\\n")'`;

/**
 * Node alone: the initramfs's own stripped binary (make initrd builds it) and its libraries in an
 * uncompressed cpio (no runtime image, nothing else running). /init starts a one-line script twice:
 * the first start pays QEMU translating Node's code, the second shows Node's start once translated.
 */
async function buildNodeFloor(arch: Arch): Promise<string> {
  const node = join(REPO_ROOT, buildDir(arch), 'node.stripped');
  if (!existsSync(node)) throw new Error(`${node} is missing: make initrd${arch === 'x86_64' ? '' : ` ARCH=${arch}`} builds it`);
  const target = describeTarget(arch, arch === buildHostArch() ? undefined : resolve(REPO_ROOT, defaultSysroot(arch)));
  const uptime = '$(/bin/busybox cut -d" " -f1 /proc/uptime)';
  const init = [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    `echo "node-floor-init-at ${uptime}"`,
    `/bin/node -e ${nodeStatement('node-floor-first-at')}`,
    `echo "node-floor-again-at ${uptime}"`,
    `/bin/node -e ${nodeStatement('node-floor-second-at')}`,
    '/bin/busybox poweroff -f',
    '',
  ].join('\n');
  const entries = floorEntries(arch, init);
  const directories = new Set(entries.filter((entry) => entry.type === 'directory').map((entry) => entry.path));
  const addFile = (source: string, path: string): void => {
    const parents: string[] = [];
    for (let dir = posix.dirname(path); dir !== '/' && !directories.has(dir); dir = posix.dirname(dir)) parents.unshift(dir);
    for (const dir of parents) {
      directories.add(dir);
      entries.push({ type: 'directory', path: dir, mode: 0o755 });
    }
    entries.push({ type: 'file', path, mode: 0o755, source, size: statSync(source).size });
  };
  addFile(node, '/bin/node');
  for (const library of sharedLibraries(node, target.sysroot, target.libraryDirs, target.elfMachine)) addFile(library.file, library.path);
  const cpioFile = join(REPO_ROOT, buildDir(arch), 'bench', 'node-floor.cpio');
  await writeFloor(cpioFile, entries);
  return cpioFile;
}

// loglevel=7 makes the kernel print "Run /init as init process" with its timestamp (same clock as /proc/uptime).
const append = ['loglevel=7'];
interface Samples {
  floorInit: number[];
  floorWall: number[];
  init: number[];
  firstLine: number[];
  sinceInit: number[];
  wall: number[];
  /** Node alone: /init → the script's first statement, first and second start. */
  nodeFirst: number[];
  nodeSecond: number[];
}
const measured = new Map<Arch, { floor: string; nodeFloor: string; samples: Samples; accel: string }>();
for (const arch of arches) {
  const samples: Samples = { floorInit: [], floorWall: [], init: [], firstLine: [], sinceInit: [], wall: [], nodeFirst: [], nodeSecond: [] };
  measured.set(arch, { floor: await buildFloor(arch), nodeFloor: await buildNodeFloor(arch), samples, accel: '' });
}
for (let run = 0; run < runs; run++) {
  for (const [arch, { floor, nodeFloor, samples }] of measured) {
    const bare = await boot({ arch, initrd: floor, append, accel, net: { kind: 'none' }, timeoutSeconds: 120 });
    samples.floorInit.push(consoleNumber(bare.console, /floor-init-at (\d+\.\d+)/));
    samples.floorWall.push(bare.seconds);
    const node = await boot({ arch, initrd: nodeFloor, append, accel, net: { kind: 'none' }, timeoutSeconds: 180 });
    const nodeInit = consoleNumber(node.console, /node-floor-init-at (\d+\.\d+)/);
    samples.nodeFirst.push(consoleNumber(node.console, /node-floor-first-at (\d+\.\d+)/) - nodeInit);
    samples.nodeSecond.push(consoleNumber(node.console, /node-floor-second-at (\d+\.\d+)/) - consoleNumber(node.console, /node-floor-again-at (\d+\.\d+)/));
    const ours = await boot({ arch, append, accel, timeoutSeconds: 300 });
    const init = consoleNumber(ours.console, /\[\s*(\d+\.\d+)\] Run \/init as init process/);
    const first = consoleNumber(ours.console, /\[(\d+\.\d+)\]: ocinit \S+: launcher started/);
    samples.init.push(init);
    samples.firstLine.push(first);
    samples.sinceInit.push(first - init);
    samples.wall.push(ours.seconds);
    const entry = measured.get(arch);
    if (entry !== undefined) entry.accel = ours.accel;
    process.stderr.write(`${arch} run ${run + 1}/${runs}: floor /init ${samples.floorInit.at(-1)?.toFixed(2)} s, ocinit /init ${init.toFixed(2)} s, first line ${first.toFixed(2)} s; Node alone ${samples.nodeFirst.at(-1)?.toFixed(2)} s after /init\n`);
  }
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
const lines: string[] = [];
for (const [arch, { floor, samples, accel: accelUsed }] of measured) {
  const qemuVersion = spawnSync(qemuBinary(arch), ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  const kernel = readFileSync(defaultKernel(arch)).length;
  const m = {
    floorInit: median(samples.floorInit),
    init: median(samples.init),
    firstLine: median(samples.firstLine),
    sinceInit: median(samples.sinceInit),
    floorWall: median(samples.floorWall),
    wall: median(samples.wall),
    nodeFirst: median(samples.nodeFirst),
    nodeSecond: median(samples.nodeSecond),
  };
  const initrd = defaultInitrd(arch);
  const ourSize = statSync(initrd).size;
  const ourUncompressed = statSync(initrd.replace(/\.zst$/, '')).size;
  const floorSize = statSync(floor).size;
  lines.push(
    `${arch}: machine ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ${qemuVersion}; accel ${accelUsed}; kernel image ${mib(kernel)}; ${runs} boots each, medians`,
    '',
    '| measure | busybox floor | ocinit | ratio |',
    '|---|---|---|---|',
    `| time to /init (s since kernel start) | ${m.floorInit.toFixed(2)} | ${m.init.toFixed(2)} | ${(m.init / m.floorInit).toFixed(2)} |`,
    `| launcher's first line (s since kernel start) | — | ${m.firstLine.toFixed(2)} | ${(m.firstLine / m.floorInit).toFixed(2)} × floor's /init |`,
    // Includes mounting the runtime image and reading Node out of it (initrd/runtime-image.ts).
    `| launcher's first line after /init starts (s) | — | ${m.sinceInit.toFixed(2)} | |`,
    `| QEMU start to power-off, wall clock (s) | ${m.floorWall.toFixed(2)} | ${m.wall.toFixed(2)} | ${(m.wall / m.floorWall).toFixed(2)} |`,
    // The runtime image is compressed in 1 MiB blocks so that it can be read in place: a few MiB
    // larger than one zstd stream over everything, for no decompression before /init and a
    // compressed copy in RAM (the 256 MiB goal, test/boot/memory.test.ts).
    `| initramfs file (${basename(initrd)}) | ${mib(floorSize)} | ${mib(ourSize)} | ${(ourSize / floorSize).toFixed(1)} |`,
    `| its cpio beside the runtime image, uncompressed | — | ${mib(ourUncompressed)} | |`,
    '',
    // What no Node launcher can beat on this machine: the binary starting and running one statement.
    '| Node alone (node -e, its binary and libraries in a plain cpio) | s after /init | ocinit\'s first line after /init ÷ Node alone |',
    '|---|---|---|',
    `| first start | ${m.nodeFirst.toFixed(2)} | ${(m.sinceInit / m.nodeFirst).toFixed(2)} |`,
    `| second start, same boot (Node's code already translated by QEMU) | ${m.nodeSecond.toFixed(2)} | |`,
    '',
  );
}
process.stdout.write(`${lines.join('\n')}`);
