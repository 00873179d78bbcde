// The comparator of bench/boot-vs-podman: a boot2container-like initramfs from Debian's packages
// (busybox-static, podman, conmon, crun and their libraries, the kernel's modules for virtio and
// overlay), built with ocinit's own cpio writer, library walker and module closure so that both
// initramfs differ only in what they run. Reproducible like ocinit's (sorted, SOURCE_DATE_EPOCH).
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { writeCpio, type CpioEntry } from '../../initrd/cpio.ts';
import { sharedLibraries } from '../../initrd/libraries.ts';
import { filterAliases, moduleClosure, parseExactAliases, parseModulesDep, parseSoftdeps } from '../../initrd/modules.ts';
import { describeTarget } from '../../initrd/target.ts';

const here = import.meta.dirname;

/** What the guest loads: the NIC and disk of QEMU's virtio machine, and overlay for podman's store. */
export const PODMAN_MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk', 'overlay'] as const;
const busyboxPath = '/bin/busybox';
const PROGRAMS = ['/usr/bin/podman', '/usr/bin/conmon', '/usr/bin/crun'] as const;

// podman as root with no systemd: cgroupfs, no journald, no pivot_root (the root is the initramfs).
const CONFIG: Record<string, string> = {
  '/etc/containers/containers.conf': '[containers]\nlog_driver = "k8s-file"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nno_pivot_root = true\nruntime = "crun"\n',
  '/etc/containers/storage.conf': '[storage]\ndriver = "overlay"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n',
  '/etc/containers/policy.json': '{"default": [{"type": "insecureAcceptAnything"}]}\n',
  '/etc/containers/registries.conf': 'unqualified-search-registries = []\n',
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  '/etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  '/etc/hosts': '127.0.0.1\tlocalhost\n',
  '/etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};

export interface PodmanInitrd {
  file: string;
  bytes: number;
  uncompressedBytes: number;
}

function checked(program: string, args: string[], stdout: 'pipe' | number = 'pipe'): string {
  const result = spawnSync(program, args, { encoding: 'utf8', stdio: ['ignore', stdout, 'pipe'], maxBuffer: 1 << 26 });
  if (result.error !== undefined) throw new Error(`cannot run ${program}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout ?? '';
}

/** Builds `out` (zstd -19, as ocinit's default) for the kernel whose lib/modules/VERSION is `modulesDir`. */
export async function buildPodmanInitrd(modulesDir: string, out: string): Promise<PodmanInitrd> {
  const cpio = out.replace(/\.zst$/, '');
  // zstd -19 takes a minute: reuse the last build unless one of its inputs is newer.
  const inputs = [busyboxPath, ...PROGRAMS, join(here, 'init.sh'), join(here, 'udhcpc.script'), join(here, 'build.ts'), join(modulesDir, 'modules.dep')];
  if (existsSync(out) && existsSync(cpio) && inputs.every((input) => statSync(input).mtimeMs < statSync(out).mtimeMs)) {
    return { file: out, bytes: statSync(out).size, uncompressedBytes: statSync(cpio).size };
  }
  const target = describeTarget('x86_64');
  const entries = new Map<string, CpioEntry>();
  const addDirectory = (path: string, mode = 0o755): void => {
    if (path === '/' || entries.has(path)) return;
    addDirectory(posix.dirname(path));
    entries.set(path, { type: 'directory', path, mode });
  };
  const add = (entry: CpioEntry): void => {
    addDirectory(posix.dirname(entry.path));
    entries.set(entry.path, entry);
  };
  const addFile = (source: string, path: string, mode: number): void => add({ type: 'file', path, mode, source, size: statSync(source).size });

  for (const dir of ['/proc', '/sys', '/dev', '/run', '/root', '/var/tmp', '/usr/sbin', '/sbin']) addDirectory(dir);
  addDirectory('/tmp', 0o1777);
  add({ type: 'char-device', path: '/dev/console', mode: 0o600, major: 5, minor: 1 });
  add({ type: 'char-device', path: '/dev/null', mode: 0o666, major: 1, minor: 3 });

  const busybox = busyboxPath;
  if (!existsSync(busybox)) throw new Error(`${busybox} is missing: apt-get install busybox-static`);
  addFile(busybox, busybox, 0o755);
  for (const applet of checked(busybox, ['--list-full']).split('\n').filter(Boolean)) {
    const path = `/${applet}`;
    if (path !== busybox) add({ type: 'symlink', path, target: posix.relative(posix.dirname(path), busybox) });
  }
  for (const program of PROGRAMS) {
    if (!existsSync(program)) throw new Error(`${program} is missing: apt-get install podman conmon crun`);
    addFile(program, program, 0o755);
    for (const library of sharedLibraries(program, target.sysroot, target.libraryDirs, target.elfMachine)) addFile(library.file, library.path, 0o755);
  }
  addFile('/usr/share/containers/seccomp.json', '/usr/share/containers/seccomp.json', 0o644);
  for (const [path, text] of Object.entries(CONFIG)) add({ type: 'inline', path, mode: 0o644, data: Buffer.from(text) });
  addFile(join(here, 'init.sh'), '/init', 0o755);
  addFile(join(here, 'udhcpc.script'), '/etc/podman-initrd/udhcpc.script', 0o755);

  const dependencies = parseModulesDep(readFileSync(join(modulesDir, 'modules.dep'), 'utf8'));
  const read = (name: string): string => (existsSync(join(modulesDir, name)) ? readFileSync(join(modulesDir, name), 'utf8') : '');
  const aliasText = read('modules.alias');
  const { files, missing } = moduleClosure(dependencies, PODMAN_MODULES, read('modules.builtin'), { softdeps: parseSoftdeps(read('modules.softdep')), aliases: parseExactAliases(aliasText) });
  if (missing.length > 0) throw new Error(`kernel ${basename(modulesDir)} has no ${missing.join(', ')}`);
  const moduleRoot = `/lib/modules/${basename(modulesDir)}`;
  for (const file of files) addFile(join(modulesDir, file), `${moduleRoot}/${file}`, 0o644);
  const subsetDep = files.map((file) => `${file}: ${(dependencies.get(file) ?? []).join(' ')}`.trimEnd() + '\n').join('');
  add({ type: 'inline', path: `${moduleRoot}/modules.dep`, mode: 0o644, data: Buffer.from(subsetDep) });
  add({ type: 'inline', path: `${moduleRoot}/modules.alias`, mode: 0o644, data: Buffer.from(filterAliases(aliasText, files)) });
  add({ type: 'inline', path: '/etc/podman-initrd/modules', mode: 0o644, data: Buffer.from(`${PODMAN_MODULES.join('\n')}\n`) });

  mkdirSync(dirname(out), { recursive: true });
  const stream = createWriteStream(`${cpio}.tmp`);
  const sorted = [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const uncompressedBytes = await writeCpio(sorted, stream, Number.parseInt(process.env.SOURCE_DATE_EPOCH ?? '0', 10));
  await new Promise<void>((resolveDone, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolveDone())));
  renameSync(`${cpio}.tmp`, cpio);
  const fd = openSync(`${out}.tmp`, 'w');
  try {
    checked('zstd', ['-q', '-c', '-T2', '-19', cpio], fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${out}.tmp`, out);
  return { file: out, bytes: statSync(out).size, uncompressedBytes };
}
