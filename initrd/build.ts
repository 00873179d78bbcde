// Assembles the initramfs: busybox, the Node runtime, the launcher, crun, their shared libraries,
// kernel modules for the chosen kernel, and initrd/rootfs/. Same inputs give the same bytes.
// For another architecture than the build host's, programs and libraries come from --sysroot
// (unpacked Debian packages, initrd/sysroot.ts) and target programs run under qemu-user.
//
// usage: node initrd/build.ts --modules DIR --out FILE [--compress zstd|xz|lz4|gzip|none] [--level N] [--no-strip]
//          [--drivers all|qemu] [--firmware DIR] [--policy POLICY.json] [--arch x86_64|arm64 --sysroot DIR --node FILE] [--runtime-image squashfs|squashfs-lz4|erofs|none]
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, openSync, renameSync, rmSync, writeSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { filterAliases, moduleClosure, moduleName, parseExactAliases, parseModulesDep, parseSoftdeps } from './modules.ts';
import { buildStartupSnapshot } from './snapshot.ts';
import { absentHardwareAliases, DRIVER_SETS, parseDriverSet, selectModules } from './drivers.ts';
import { BUILT_IN_POLICY } from '../src/policy/built-in.ts';
import { embedPolicy, type EmbeddedPolicy } from '../src/policy/embed.ts';
import { readElfLinkInfo, sharedLibraries } from './libraries.ts';
import { ARCHES, buildHostArch, describeTarget, parseArch, type Target } from './target.ts';
import { COMPRESSIONS, COMPRESSORS, parseCompression } from './compressors.ts';
import { buildRuntimeImage, FORMATS, parseRuntimeImageFormat, RUNTIME_CONFIG_PATH, RUNTIME_IMAGE_FORMATS, RUNTIME_IMAGE_PATH, RUNTIME_MOUNT_POINT, runtimeConfig, splitForRuntimeImage } from './runtime-image.ts';

const here = dirname(new URL(import.meta.url).pathname);
const repo = resolve(here, '..');

const { values } = parseArgs({
  options: {
    modules: { type: 'string' },
    out: { type: 'string' },
    compress: { type: 'string', default: 'zstd' },
    level: { type: 'string' },
    'no-strip': { type: 'boolean', default: false },
    drivers: { type: 'string', default: 'all' },
    firmware: { type: 'string' },
    policy: { type: 'string' },
    arch: { type: 'string' },
    sysroot: { type: 'string' },
    node: { type: 'string' },
    'runtime-image': { type: 'string', default: 'squashfs' },
  },
});

function fail(message: string): never {
  process.stderr.write(`initrd: ${message}\n`);
  process.exit(1);
}

function run(argv: string[], input?: Buffer): string {
  const [program, ...args] = argv;
  if (program === undefined) fail('empty command');
  const result = spawnSync(program, args, { input, maxBuffer: 1 << 30 });
  if (result.error) fail(`cannot run ${program}: ${result.error.message}`);
  if (result.status !== 0) fail(`${argv.join(' ')} failed: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

const modulesDir = values.modules ?? fail('--modules DIR (the kernel\'s lib/modules/VERSION) is required');
const outFile = resolve(values.out ?? fail('--out FILE is required'));
const mtime = Number.parseInt(process.env.SOURCE_DATE_EPOCH ?? '0', 10);
if (!Number.isInteger(mtime) || mtime < 0) fail(`SOURCE_DATE_EPOCH must be a whole number of seconds, not '${process.env.SOURCE_DATE_EPOCH}'`);

// Option checks first, before the slow steps.
const driverSet = parseDriverSet(values.drivers ?? 'all') ?? fail(`--drivers wants ${DRIVER_SETS.join(' or ')}, not '${values.drivers}'`);
const runtimeFormat = parseRuntimeImageFormat(values['runtime-image'] ?? 'squashfs') ?? fail(`--runtime-image wants ${RUNTIME_IMAGE_FORMATS.join(', ')}, not '${values['runtime-image']}'`);
const firmwareDir = values.firmware === undefined ? undefined : resolve(values.firmware);
if (firmwareDir !== undefined && (!existsSync(firmwareDir) || !statSync(firmwareDir).isDirectory())) {
  fail(`--firmware ${values.firmware} is not a directory (want a /lib/firmware tree: rtl_nic/..., e100/...)`);
}

// A signature policy, checked whole (keys included) before anything else is built.
let policy: EmbeddedPolicy | undefined;
if (values.policy !== undefined) {
  const policyFile = resolve(values.policy);
  try {
    policy = embedPolicy(readFileSync(policyFile, 'utf8'), policyFile);
  } catch (error) {
    fail(`POLICY=${values.policy}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
const arch = values.arch === undefined ? buildHostArch() : parseArch(values.arch);
if (arch === undefined) fail(`--arch wants ${ARCHES.join(' or ')}, not '${values.arch ?? process.arch}'`);
let target: Target;
try {
  target = describeTarget(arch, values.sysroot === undefined ? undefined : resolve(values.sysroot));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
/** A target program run on the build host. */
const runTarget = (argv: string[]): string => run([...target.emulator, ...argv]);
/** A path of the target's file system, as a host file. */
const inSysroot = (path: string): string => join(target.sysroot, path);

const entries = new Map<string, CpioEntry>();

function addDirectory(path: string, mode = 0o755): void {
  const parent = posix.dirname(path);
  if (parent !== path && parent !== '/' && !entries.has(parent)) addDirectory(parent);
  if (!entries.has(path)) entries.set(path, { type: 'directory', path, mode });
}

function add(entry: CpioEntry): void {
  addDirectory(posix.dirname(entry.path));
  const existing = entries.get(entry.path);
  if (existing !== undefined && existing.type !== 'directory' && JSON.stringify(existing) !== JSON.stringify(entry)) {
    fail(`two different files want ${entry.path}`);
  }
  entries.set(entry.path, entry);
}

function addHostFile(source: string, path: string, mode?: number): void {
  const stat = statSync(source);
  add({ type: 'file', path, mode: mode ?? stat.mode & 0o7777, source, size: stat.size });
}

/** An executable and every library it loads, at their paths in the sysroot (none when it is static). */
function addExecutable(source: string, path: string): void {
  addHostFile(source, path);
  let libraries;
  try {
    libraries = sharedLibraries(source, target.sysroot, target.libraryDirs, target.elfMachine);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  for (const library of libraries) addHostFile(library.file, library.path, 0o755);
}

// Skeleton.
for (const dir of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/lib', '/etc', '/proc', '/sys', '/dev', '/run', '/mnt', '/root', '/var', '/storage', '/new_root']) addDirectory(dir);
addDirectory('/tmp', 0o1777);
add({ type: 'char-device', path: '/dev/console', mode: 0o600, major: 5, minor: 1 });
add({ type: 'char-device', path: '/dev/null', mode: 0o666, major: 1, minor: 3 });
add({ type: 'symlink', path: '/var/run', target: '../run' });
add({ type: 'symlink', path: '/container', target: 'storage' });

// busybox and its applets.
const busybox = inSysroot('/bin/busybox');
if (!existsSync(busybox) || readElfLinkInfo(busybox).interpreter !== undefined) fail(`a static ${busybox} is needed: apt-get install busybox-static`);
if (readElfLinkInfo(busybox).machine !== target.elfMachine) fail(`${busybox} is not built for ${target.elfMachine}`);
addHostFile(busybox, '/bin/busybox', 0o755);
for (const applet of runTarget([busybox, '--list-full']).split('\n').filter(Boolean)) {
  const path = `/${applet}`;
  if (path === '/bin/busybox') continue;
  add({ type: 'symlink', path, target: posix.relative(posix.dirname(path), '/bin/busybox') });
}

// The Node runtime (the one npm ci installed unless --node names another architecture's), and the launcher.
const nodeBinary = realpathSync(values.node ?? join(repo, 'node_modules/.bin/node'));
let shippedNode = nodeBinary;
if (!values['no-strip']) {
  // Debug sections and the symbol table are 18 MB of the 126 MB binary, never used at boot.
  shippedNode = join(dirname(outFile), 'node.stripped');
  mkdirSync(dirname(shippedNode), { recursive: true });
  if (!existsSync(shippedNode) || statSync(shippedNode).mtimeMs < statSync(nodeBinary).mtimeMs) {
    run([target.strip, '--strip-all', '-o', `${shippedNode}.tmp`, nodeBinary]);
    renameSync(`${shippedNode}.tmp`, shippedNode);
  }
}
addExecutable(shippedNode, '/bin/node');
const launcher = join(repo, 'dist/init.js');
if (!existsSync(launcher)) fail('dist/init.js is missing: run make build first');
addHostFile(launcher, '/init.js', 0o644);
const snapshot = join(dirname(outFile), 'init.snapshot');
try {
  buildStartupSnapshot(shippedNode, launcher, `${snapshot}.tmp`, target.emulator);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
renameSync(`${snapshot}.tmp`, snapshot);
addHostFile(snapshot, '/init.snapshot', 0o644);
addHostFile(join(here, 'init.sh'), '/init', 0o755);

// Other host tools.
for (const line of readFileSync(join(here, 'binaries.txt'), 'utf8').split('\n')) {
  const words = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) continue;
  const [source, path] = words;
  if (source === undefined || path === undefined) fail(`binaries.txt: '${line}' needs a host path and an initramfs path`);
  // An absolute path is the target's (the host's on a native build), a relative one a file the
  // Makefile built for the target (in build/ or build/ARCH/).
  const file = posix.isAbsolute(source) ? inSysroot(source) : join(repo, target.buildDir, source);
  if (!existsSync(file)) fail(`${file} is missing (binaries.txt): run make deps${target.sysroot === '/' ? '' : `, or add its Debian package to SYSROOT_PACKAGES (initrd/target.ts)`}`);
  addExecutable(file, path);
}

// Minimal /etc.
const etc: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  '/etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  '/etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  '/etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};
for (const [path, text] of Object.entries(etc)) add({ type: 'inline', path, mode: 0o644, data: Buffer.from(text) });

// Kernel modules: the listed ones and their dependencies, with modules.dep/alias for that subset.
const kernelVersion = basename(resolve(modulesDir));
const depFile = join(modulesDir, 'modules.dep');
if (!existsSync(depFile)) fail(`${depFile} is missing: run depmod for that kernel first`);
const dependencies = parseModulesDep(readFileSync(depFile, 'utf8'));
const listed = readFileSync(join(here, 'modules.txt'), 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter(Boolean);
const wanted = selectModules(driverSet, [...listed, ...target.modules], dependencies.keys());
const builtinFile = join(modulesDir, 'modules.builtin');
const builtin = existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8') : '';
const aliasFile = join(modulesDir, 'modules.alias');
const aliasText = existsSync(aliasFile) ? readFileSync(aliasFile, 'utf8') : '';
const softdepFile = join(modulesDir, 'modules.softdep');
const soft = { softdeps: parseSoftdeps(existsSync(softdepFile) ? readFileSync(softdepFile, 'utf8') : ''), aliases: parseExactAliases(aliasText) };
const { files: moduleFiles, missing } = moduleClosure(dependencies, wanted, builtin, soft);
for (const name of missing) process.stderr.write(`initrd: warning: module ${name} is neither in modules.dep nor built into kernel ${kernelVersion}\n`);
const moduleRoot = `/lib/modules/${kernelVersion}`;
// What /init loads to mount the runtime image stays in the cpio (with modules.dep covering it).
const bootModules = runtimeFormat === 'none' ? { files: [], missing: [] } : moduleClosure(dependencies, FORMATS[runtimeFormat].bootModules, builtin, soft);
if (bootModules.missing.length > 0) fail(`kernel ${kernelVersion} has no ${bootModules.missing.join(', ')} for the ${runtimeFormat} runtime image: use --runtime-image none (RUNTIME_IMAGE=none)`);
for (const file of bootModules.files) if (!moduleFiles.includes(file)) moduleFiles.push(file);
for (const file of moduleFiles) addHostFile(join(modulesDir, file), `${moduleRoot}/${file}`, 0o644);
const subsetDep = [...dependencies.entries()]
  .filter(([file]) => moduleFiles.includes(file))
  .map(([file, deps]) => `${file}: ${deps.join(' ')}`.trimEnd() + '\n')
  .join('');
add({ type: 'inline', path: `${moduleRoot}/modules.dep`, mode: 0o644, data: Buffer.from(subsetDep) });
const aliases = filterAliases(aliasText, moduleFiles);
add({ type: 'inline', path: `${moduleRoot}/modules.alias`, mode: 0o644, data: Buffer.from(aliases) });
add({ type: 'inline', path: `${moduleRoot}/modules.builtin`, mode: 0o644, data: Buffer.from(builtin) });
const absent = absentHardwareAliases(aliasText, dependencies.keys(), moduleFiles);
add({ type: 'inline', path: `${moduleRoot}/modules.alias.absent`, mode: 0o644, data: Buffer.from(absent) });

// Firmware for the drivers (the kernel's direct loader reads /lib/firmware), as given.
if (firmwareDir !== undefined) {
  addDirectory('/lib/firmware');
  addTree(firmwareDir, '/lib/firmware');
}

// The signature policy and the keys it names (see src/policy/embed.ts).
if (policy !== undefined) {
  add({ type: 'inline', path: BUILT_IN_POLICY, mode: 0o644, data: Buffer.from(policy.text) });
  for (const key of policy.keys) add({ type: 'inline', path: key.path, mode: 0o644, data: readFileSync(key.source) });
}

// initrd/rootfs/ verbatim.
function addTree(hostDir: string, path: string): void {
  for (const name of readdirSync(hostDir).sort()) {
    const source = join(hostDir, name);
    const target = posix.join(path, name);
    const stat = lstatSync(source);
    if (stat.isDirectory()) {
      addDirectory(target, stat.mode & 0o7777);
      addTree(source, target);
    } else if (stat.isSymbolicLink()) add({ type: 'symlink', path: target, target: readlinkSync(source) });
    else add({ type: 'file', path: target, mode: stat.mode & 0o777, source, size: stat.size });
  }
}
const extraRoot = join(here, 'rootfs');
if (existsSync(extraRoot)) addTree(extraRoot, '/');

// Write: sorted, so parents come before children and order never depends on the build host.
const byPath = (a: CpioEntry, b: CpioEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const cpioFile = outFile.replace(/\.(zst|xz|lz4|gz)$/, '');
// All files are written under temporary names and renamed at the end: a boot reading the
// previous initramfs meanwhile must never see half of the new one.
// Apart from outTemporary even when they name one file (--compress none): the output is written from it.
const cpioTemporary = `${cpioFile}.cpio-tmp`;
const outTemporary = `${outFile}.tmp`;
mkdirSync(dirname(outFile), { recursive: true });

async function writeCpioFile(list: readonly CpioEntry[], file: string): Promise<number> {
  const stream = createWriteStream(file);
  const written = await writeCpio(list, stream, mtime);
  await new Promise<void>((resolveDone, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolveDone())));
  return written;
}

// The runtime image goes first, in an archive of its own that is never compressed again (its
// contents are): the kernel unpacks an uncompressed archive followed by a compressed one, as it
// does for early microcode.
let imageArchive: { file: string; size: number } | undefined;
let imageSize = 0;
if (runtimeFormat !== 'none') {
  const keep = new Set(['/bin/busybox', '/init', ...bootModules.files.map((file) => `${moduleRoot}/${file}`)]);
  const { moved, kept } = splitForRuntimeImage([...entries.values()], keep);
  const image = join(dirname(outFile), `runtime.${runtimeFormat}`);
  try {
    buildRuntimeImage(runtimeFormat, moved, `${image}.stage`, `${image}.tmp`, mtime);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  renameSync(`${image}.tmp`, image);
  imageSize = statSync(image).size;
  entries.clear();
  for (const entry of kept) entries.set(entry.path, entry);
  const names = bootModules.files.map(moduleName);
  add({ type: 'inline', path: RUNTIME_CONFIG_PATH, mode: 0o644, data: Buffer.from(runtimeConfig(runtimeFormat, names)) });
  const imageEntries: CpioEntry[] = [];
  for (let dir = posix.dirname(RUNTIME_IMAGE_PATH); dir !== '/'; dir = posix.dirname(dir)) imageEntries.unshift({ type: 'directory', path: dir, mode: 0o755 });
  imageEntries.push({ type: 'file', path: RUNTIME_IMAGE_PATH, mode: 0o444, source: image, size: imageSize });
  const file = `${cpioFile}.image.tmp`;
  imageArchive = { file, size: await writeCpioFile(imageEntries, file) };
  addDirectory(RUNTIME_MOUNT_POINT);
}
const sorted = [...entries.values()].sort(byPath);
const uncompressed = (await writeCpioFile(sorted, cpioTemporary)) + (imageArchive?.size ?? 0);

const compression = parseCompression(values.compress ?? 'zstd') ?? fail(`unknown compression '${values.compress}': ${COMPRESSIONS.join(', ')}`);
if (compression === 'none' && cpioFile !== outFile) fail('--compress none wants an --out without a compression suffix');
const output = openSync(outTemporary, 'w');
if (imageArchive !== undefined) {
  writeSync(output, readFileSync(imageArchive.file));
  rmSync(imageArchive.file);
}
if (compression === 'none') writeSync(output, readFileSync(cpioTemporary));
else {
  const [program, ...args] = COMPRESSORS[compression](cpioTemporary, values.level);
  const result = spawnSync(program ?? 'false', args, { stdio: ['ignore', output, 'inherit'] });
  if (result.error !== undefined || result.status !== 0) fail(`${program} failed${result.error ? `: ${result.error.message}` : ''}`);
}
closeSync(output);
if (compression === 'none') rmSync(cpioTemporary);
else renameSync(cpioTemporary, cpioFile);
renameSync(outTemporary, outFile);
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
process.stdout.write(
  `initrd: ${relative(process.cwd(), outFile)}: ${sorted.length} entries, ${mib(uncompressed)} uncompressed, ${mib(statSync(outFile).size)} compressed (${compression}), kernel ${kernelVersion}, ${moduleFiles.length} modules (drivers: ${driverSet}), runtime image ${runtimeFormat === 'none' ? 'none' : `${runtimeFormat} ${mib(imageSize)}`}${policy === undefined ? '' : `, policy ${values.policy} with ${policy.keys.length} key(s)`}\n`,
);
