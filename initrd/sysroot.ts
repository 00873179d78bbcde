// Unpacks a foreign architecture's Debian packages, with their dependency closure, into a sysroot
// the initramfs build takes binaries and shared libraries from. Nothing is installed on the host:
// a private apt configuration (initrd/foreign-apt) and `apt-get download`, then `dpkg-deb -x`.
// Prints nothing but errors; DIR/sysroot.packages lists the packages and versions it holds.
//
// usage: node initrd/sysroot.ts --arch arm64 --dir DIR [PACKAGE...]  →  DIR/sysroot/
//   (the packages default to initrd/target.ts's SYSROOT_PACKAGES)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dependencyClosure, parseCandidates, parseDepends } from './apt-depends.ts';
import { debianArch, parseArch, SYSROOT_PACKAGES } from './target.ts';

const here = dirname(new URL(import.meta.url).pathname);
const { values, positionals } = parseArgs({ allowPositionals: true, options: { arch: { type: 'string' }, dir: { type: 'string' } } });

function fail(message: string): never {
  process.stderr.write(`sysroot: ${message}\n`);
  process.exit(1);
}

function run(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const [program, ...args] = argv;
  if (program === undefined) fail('empty command');
  const result = spawnSync(program, args, { ...options, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.error) fail(`cannot run ${program}: ${result.error.message}`);
  if (result.status !== 0) fail(`${argv.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

const arch = debianArch(parseArch(values.arch ?? fail('--arch ARCH is required')) ?? fail(`unknown architecture '${values.arch}'`));
const dir = resolve(values.dir ?? fail('--dir DIR is required'));
const roots = positionals.length > 0 ? positionals : [...SYSROOT_PACKAGES];

const aptConfig = run([join(here, 'foreign-apt'), arch, join(dir, 'apt')]).trim();
const env = { ...process.env, APT_CONFIG: aptConfig };
const dependsArgs = ['--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];
const packages = dependencyClosure(roots, (names) => parseDepends(run(['apt-cache', 'depends', ...dependsArgs, ...names], { env })));

// The .deb files stay in DIR/debs between builds; apt-get download skips none, so ask only for new ones.
const debs = join(dir, 'debs');
mkdirSync(debs, { recursive: true });
const candidates = parseCandidates(run(['apt-cache', 'policy', ...packages], { env }));
const versions = packages.map((name) => {
  const version = candidates.get(name);
  if (version === undefined) fail(`Debian has no ${arch} package ${name}: check /etc/apt/sources`);
  return { name, version };
});
// dpkg-deb names a downloaded file NAME_VERSION_ARCH.deb with the version's colon escaped.
const debFile = (name: string, version: string): string => `${name}_${version.replace(':', '%3a')}_`;
const present = readdirSync(debs);
const wanted = versions.filter(({ name, version }) => !present.some((file) => file.startsWith(debFile(name, version))));
if (wanted.length > 0) run(['apt-get', 'download', '-q', ...wanted.map(({ name, version }) => `${name}:${arch}=${version}`)], { cwd: debs, env });

const sysroot = join(dir, 'sysroot');
const staging = `${sysroot}.tmp`;
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
const files = readdirSync(debs);
for (const { name, version } of versions) {
  const file = files.find((candidate) => candidate.startsWith(debFile(name, version)) && candidate.endsWith('.deb'));
  if (file === undefined) fail(`apt-get download left no .deb for ${name} ${version} in ${debs}`);
  run(['dpkg-deb', '-x', join(debs, file), staging]);
}
// Merged /usr, as on the build host and on any Debian 12 install: /bin, /sbin and /lib are links
// into /usr, so that a program is found at the path binaries.txt names (/usr/sbin/sfdisk is in
// fdisk's package as /sbin/sfdisk).
for (const top of ['bin', 'sbin', 'lib']) {
  const unpacked = join(staging, top);
  mkdirSync(join(staging, 'usr', top), { recursive: true });
  if (existsSync(unpacked)) {
    run(['cp', '-a', '--no-clobber', `${unpacked}/.`, join(staging, 'usr', top)]);
    rmSync(unpacked, { recursive: true });
  }
  symlinkSync(`usr/${top}`, unpacked);
}
rmSync(sysroot, { recursive: true, force: true });
renameSync(staging, sysroot);
writeFileSync(join(dir, 'sysroot.packages'), versions.map(({ name, version }) => `${name} ${version}\n`).join(''));
