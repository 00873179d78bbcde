// Inputs shared by the pull benchmarks, built once and cached under build/bench/: a debootstrap
// minbase root filesystem made from the Debian mirror apt is configured with, OCI layouts of it, and
// a fresh file system per run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sha256 } from '../test/support/image.ts';

export const ROOT = resolve(import.meta.dirname, '..');
export const BENCH = join(ROOT, 'build', 'bench');
export const ROOTFS = join(BENCH, 'rootfs');

export function sh(command: string, options: { cwd?: string } = {}): string {
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

export function ensureRootfs(): void {
  if (existsSync(ROOTFS)) return;
  const { uri, suite } = aptMirror();
  console.log(`building ${ROOTFS} with debootstrap --variant=minbase ${suite} ${uri} (once)`);
  rmSync(`${ROOTFS}.tmp`, { recursive: true, force: true });
  execFileSync('debootstrap', ['--variant=minbase', suite, `${ROOTFS}.tmp`, uri], { stdio: 'inherit' });
  renameSync(`${ROOTFS}.tmp`, ROOTFS);
}

export interface LayerPlan {
  name: string;
  /** Shell command writing an uncompressed tar on stdout. */
  tar: string;
}

/** Writes an OCI layout whose layers are the given tars, gzip-compressed; cached by name. */
export function ensureLayout(name: string, layers: LayerPlan[]): string {
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
export const DEBIAN_LAYERS: LayerPlan[] = [
  { name: 'usr', tar: `${TAR} ${ROOTFS} -cf - ./usr` },
  { name: 'var', tar: `${TAR} ${ROOTFS} -cf - ./var` },
  { name: 'rest', tar: `${TAR} ${ROOTFS} --exclude=./usr --exclude=./var -cf - .` },
];
export const DEBIAN_APT_CACHES = ['/var/cache/apt/archives', '/var/lib/apt/lists'] as const;
// The same root filesystem as an image built FROM a base plus one RUN step would be: /usr, then the
// rest; without the .debs and package lists debootstrap leaves in apt's cache and state (an image
// build removes them): ~115 MB unpacked.
export const DEBIAN_TWO_LAYERS: LayerPlan[] = [
  { name: 'usr', tar: `${TAR} ${ROOTFS} -cf - ./usr` },
  { name: 'rest', tar: `${TAR} ${ROOTFS} --exclude=./usr ${DEBIAN_APT_CACHES.map((path) => `--exclude=.${path}`).join(' ')} -cf - .` },
];
// The larger image: the same root filesystem plus 1.5 GB of incompressible data in big and small files.
export const LARGE_LAYERS: LayerPlan[] = [
  ...DEBIAN_LAYERS,
  {
    name: 'data',
    tar: `d=$(mktemp -d) && mkdir -p $d/data/small && head -c 1200000000 /dev/urandom > $d/data/big.bin && for i in $(seq 1 3000); do head -c 100000 /dev/urandom > $d/data/small/$i; done && ${TAR} $d -cf - ./data; rm -rf $d`,
  },
];

export type FileSystemKind = 'ext4' | 'tmpfs';

/**
 * Runs `work` on a file system made for it alone and discarded after: a fresh ext4 on a sparse file
 * attached to a loop device (the disk case: a cache device), or a fresh tmpfs (the RAM case: what the
 * initramfs unpacks into without one). Every run of either tool starts from the same empty file
 * system, so no run pays for what an earlier one left behind (ext4 allocates inodes more slowly
 * after a large tree was deleted, which slowed whichever tool ran next).
 */
export async function onFreshFileSystem<T>(kind: FileSystemKind, sizeBytes: number, mountPoint: string, work: (dir: string) => T | Promise<T>): Promise<T> {
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
    return await work(mountPoint);
  } finally {
    execFileSync('umount', [mountPoint]);
    if (device !== undefined) execFileSync('losetup', ['-d', device]);
    rmSync(image, { force: true });
  }
}

export function ensureLoopDevices(): void {
  if (existsSync('/dev/loop-control')) return;
  execFileSync('modprobe', ['loop']);
}
