// Assembles the initramfs: busybox, the Node runtime, the launcher, crun, shared libraries found by
// ldd, kernel modules for the chosen kernel, and initrd/rootfs/. Same inputs give the same bytes.
//
// usage: node initrd/build.ts --modules DIR --out FILE [--compress zstd|xz|lz4|gzip|none] [--level N] [--no-strip]
//          [--drivers all|qemu] [--firmware DIR] [--policy POLICY.json]
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, openSync, renameSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { filterAliases, moduleClosure, parseExactAliases, parseModulesDep, parseSoftdeps } from './modules.ts';
import { buildStartupSnapshot } from './snapshot.ts';
import { absentHardwareAliases, DRIVER_SETS, parseDriverSet, selectModules } from './drivers.ts';
import { BUILT_IN_POLICY } from '../src/policy/built-in.ts';
import { embedPolicy, type EmbeddedPolicy } from '../src/policy/embed.ts';

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

/** An executable and every library ldd resolves for it, at the same paths (none when it is static). */
function addExecutable(source: string, path: string): void {
  addHostFile(source, path);
  const ldd = spawnSync('ldd', [source], { encoding: 'utf8' });
  if (ldd.status !== 0) {
    if (/not a dynamic executable/.test(ldd.stdout + ldd.stderr)) return;
    fail(`ldd ${source} failed: ${(ldd.error?.message ?? ldd.stderr).trim()}`);
  }
  for (const line of ldd.stdout.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1] === undefined) continue;
    const library = match[1];
    addHostFile(realpathSync(library), library, 0o755);
  }
}

// Skeleton.
for (const dir of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/lib', '/etc', '/proc', '/sys', '/dev', '/run', '/mnt', '/root', '/var', '/storage', '/new_root']) addDirectory(dir);
addDirectory('/tmp', 0o1777);
add({ type: 'char-device', path: '/dev/console', mode: 0o600, major: 5, minor: 1 });
add({ type: 'char-device', path: '/dev/null', mode: 0o666, major: 1, minor: 3 });
add({ type: 'symlink', path: '/var/run', target: '../run' });
add({ type: 'symlink', path: '/container', target: 'storage' });

// busybox and its applets.
const busybox = '/bin/busybox';
if (!existsSync(busybox) || run(['file', '-L', busybox]).includes('dynamically')) fail('a static /bin/busybox is needed: apt-get install busybox-static');
addHostFile(busybox, '/bin/busybox', 0o755);
for (const applet of run([busybox, '--list-full']).split('\n').filter(Boolean)) {
  const path = `/${applet}`;
  if (path === '/bin/busybox') continue;
  add({ type: 'symlink', path, target: posix.relative(posix.dirname(path), '/bin/busybox') });
}

// The Node runtime that npm ci installed, and the launcher.
const nodeBinary = realpathSync(join(repo, 'node_modules/.bin/node'));
let shippedNode = nodeBinary;
if (!values['no-strip']) {
  // Debug sections and the symbol table are 18 MB of the 126 MB binary, never used at boot.
  shippedNode = join(dirname(outFile), 'node.stripped');
  mkdirSync(dirname(shippedNode), { recursive: true });
  if (!existsSync(shippedNode) || statSync(shippedNode).mtimeMs < statSync(nodeBinary).mtimeMs) {
    run(['strip', '--strip-all', '-o', `${shippedNode}.tmp`, nodeBinary]);
    renameSync(`${shippedNode}.tmp`, shippedNode);
  }
}
addExecutable(shippedNode, '/bin/node');
const launcher = join(repo, 'dist/init.js');
if (!existsSync(launcher)) fail('dist/init.js is missing: run make build first');
addHostFile(launcher, '/init.js', 0o644);
const snapshot = join(dirname(outFile), 'init.snapshot');
try {
  buildStartupSnapshot(shippedNode, launcher, `${snapshot}.tmp`);
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
  if (!existsSync(source)) fail(`${source} is missing on this host (binaries.txt): run make deps`);
  addExecutable(source, path);
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
const wanted = selectModules(driverSet, listed, dependencies.keys());
const builtinFile = join(modulesDir, 'modules.builtin');
const builtin = existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8') : '';
const aliasFile = join(modulesDir, 'modules.alias');
const aliasText = existsSync(aliasFile) ? readFileSync(aliasFile, 'utf8') : '';
const softdepFile = join(modulesDir, 'modules.softdep');
const soft = { softdeps: parseSoftdeps(existsSync(softdepFile) ? readFileSync(softdepFile, 'utf8') : ''), aliases: parseExactAliases(aliasText) };
const { files: moduleFiles, missing } = moduleClosure(dependencies, wanted, builtin, soft);
for (const name of missing) process.stderr.write(`initrd: warning: module ${name} is neither in modules.dep nor built into kernel ${kernelVersion}\n`);
const moduleRoot = `/lib/modules/${kernelVersion}`;
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
const sorted = [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
const cpioFile = outFile.replace(/\.(zst|xz|lz4|gz)$/, '');
// Both files are written under temporary names and renamed at the end: a boot reading the
// previous initramfs meanwhile must never see half of the new one.
const cpioTemporary = `${cpioFile}.tmp`;
const outTemporary = `${outFile}.tmp`;
mkdirSync(dirname(outFile), { recursive: true });
const cpioStream = createWriteStream(cpioTemporary);
const uncompressed = await writeCpio(sorted, cpioStream, mtime);
await new Promise<void>((resolveDone, reject) => cpioStream.end((error?: Error | null) => (error ? reject(error) : resolveDone())));

// Each compressor writes to stdout; levels are the defaults GUIDE.md measured.
const compressors: Record<string, (level: string | undefined) => string[]> = {
  zstd: (level) => ['zstd', '-q', '-c', '-T2', `-${level ?? '19'}`, cpioTemporary],
  // The kernel's xz decoder only knows CRC32 checks.
  xz: (level) => ['xz', '-q', '-c', '-T1', '--check=crc32', `-${level ?? '9'}`, cpioTemporary],
  lz4: (level) => ['lz4', '-q', '-c', '-l', `-${level ?? '9'}`, cpioTemporary],
  gzip: (level) => ['gzip', '-n', '-c', `-${level ?? '6'}`, cpioTemporary],
};
const compression = values.compress ?? 'zstd';
if (compression === 'none') {
  if (cpioFile !== outFile) fail('--compress none wants an --out without a compression suffix');
  renameSync(cpioTemporary, cpioFile);
} else {
  const command = compressors[compression] ?? fail(`unknown compression '${compression}': zstd, xz, lz4, gzip or none`);
  const [program, ...args] = command(values.level);
  const output = openSync(outTemporary, 'w');
  const result = spawnSync(program ?? 'false', args, { stdio: ['ignore', output, 'inherit'] });
  closeSync(output);
  if (result.error !== undefined || result.status !== 0) fail(`${program} failed${result.error ? `: ${result.error.message}` : ''}`);
  renameSync(cpioTemporary, cpioFile);
  renameSync(outTemporary, outFile);
}
const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;
process.stdout.write(
  `initrd: ${relative(process.cwd(), outFile)}: ${sorted.length} entries, ${mib(uncompressed)} uncompressed, ${mib(statSync(outFile).size)} compressed (${compression}), kernel ${kernelVersion}, ${moduleFiles.length} modules (drivers: ${driverSet})${policy === undefined ? '' : `, policy ${values.policy} with ${policy.keys.length} key(s)`}\n`,
);
