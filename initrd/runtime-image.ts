// The runtime image: the initramfs's large files (Node, its snapshot, the shared libraries, crun,
// the kernel modules, firmware) in a compressed read-only file system that /init mounts through a
// loop device before it starts Node. Only the pages that are read get decompressed, and the RAM
// copy the kernel keeps is the compressed one: under TCG the kernel no longer spends seconds
// decompressing 180 MB before /init, and a 256 MiB machine has room left for the job.
//
// In the cpio each moved file is replaced by a symlink into the mount point, so every path stays
// what it was (/bin/node, /lib/modules/..., /usr/bin/crun). What /init needs to mount the image
// (busybox, itself, the loop and file system modules) stays in the cpio.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { CpioEntry } from './cpio.ts';

export const RUNTIME_IMAGE_FORMATS = ['squashfs', 'squashfs-lz4', 'erofs', 'none'] as const;
export type RuntimeImageFormat = (typeof RUNTIME_IMAGE_FORMATS)[number];

/** Where /init mounts the image, and where the image file itself lies in the initramfs. */
export const RUNTIME_MOUNT_POINT = '/usr/lib/ocinit/runtime';
export const RUNTIME_IMAGE_PATH = '/usr/lib/ocinit/runtime.img';
/** Shell assignments /init reads: the file system type and the modules to load first. */
export const RUNTIME_CONFIG_PATH = '/etc/ocinit/runtime-image';

interface FormatSpec {
  fstype: string;
  /** Module names to load before mounting, in load order (dependencies first). */
  bootModules: string[];
  /** mkfs command line building `image` from `directory`, same bytes for the same tree. */
  mkfs: (directory: string, image: string, mtime: number) => string[];
}

/** mksquashfs in 1 MiB blocks (smaller ones were slower to start Node from: docs/performance.md) with `compression`. */
function mksquashfs(compression: readonly string[]): FormatSpec['mkfs'] {
  return (directory, image, mtime) => [
    'mksquashfs', directory, image, '-noappend', '-quiet', '-no-progress', '-all-root', '-no-xattrs',
    '-mkfs-time', String(mtime), '-all-time', String(mtime), '-b', '1M', ...compression,
  ];
}

export const FORMATS: Record<Exclude<RuntimeImageFormat, 'none'>, FormatSpec> = {
  // zstd -19: Debian's kernel has squashfs's zstd decompressor, and zstd decompresses several
  // times faster than xz at a few MB more.
  squashfs: { fstype: 'squashfs', bootModules: ['loop', 'squashfs'], mkfs: mksquashfs(['-comp', 'zstd', '-Xcompression-level', '19']) },
  // lz4hc: 22 MiB larger than zstd, but Node started from it ~25 % sooner under QEMU's TCG, where
  // decompression is slow; on real hardware the larger transfer costs more than it saves, and
  // 256 MiB no longer boot (the kernel's copy out of the initramfs fails: docs/performance.md).
  'squashfs-lz4': { fstype: 'squashfs', bootModules: ['loop', 'squashfs'], mkfs: mksquashfs(['-comp', 'lz4', '-Xhc']) },
  // lz4hc in 256 KiB physical clusters: the fastest decompression, the largest image (Debian's
  // erofs-utils 1.5 offers lz4 only).
  erofs: {
    fstype: 'erofs',
    bootModules: ['loop', 'crc32c_generic', 'libcrc32c', 'erofs'],
    mkfs: (directory, image, mtime) => [
      'mkfs.erofs', '--quiet', '-zlz4hc,12', '-C262144', `-T${mtime}`, '-U00000000-0000-0000-0000-000000000000', '--all-root',
      image, directory,
    ],
  },
};

export function parseRuntimeImageFormat(text: string): RuntimeImageFormat | undefined {
  return (RUNTIME_IMAGE_FORMATS as readonly string[]).includes(text) ? (text as RuntimeImageFormat) : undefined;
}

type FileEntry = Extract<CpioEntry, { type: 'file' }>;

/**
 * Files under this size stay in the cpio: they cost little there, and a real file is what a
 * container that bind-mounts part of the initramfs (/usr/share/ocinit) expects, not a symlink.
 */
export const SMALLEST_MOVED_FILE = 64 * 1024;

/**
 * Splits the initramfs's entries: every host file of at least SMALLEST_MOVED_FILE bytes not in
 * `keep` moves into the image and leaves a symlink at its path. The rest stays.
 */
export function splitForRuntimeImage(entries: readonly CpioEntry[], keep: ReadonlySet<string>): { moved: FileEntry[]; kept: CpioEntry[] } {
  const moved: FileEntry[] = [];
  const kept: CpioEntry[] = [];
  for (const entry of entries) {
    if (entry.type === 'file' && entry.size >= SMALLEST_MOVED_FILE && !keep.has(entry.path)) {
      moved.push(entry);
      kept.push({ type: 'symlink', path: entry.path, target: posix.join(RUNTIME_MOUNT_POINT, entry.path) });
    } else kept.push(entry);
  }
  return { moved, kept };
}

/** The shell assignments /init sources before mounting the image. */
export function runtimeConfig(format: Exclude<RuntimeImageFormat, 'none'>, moduleNames: readonly string[]): string {
  return [
    `RUNTIME_FSTYPE=${FORMATS[format].fstype}`,
    `RUNTIME_IMAGE=${RUNTIME_IMAGE_PATH}`,
    `RUNTIME_MOUNT=${RUNTIME_MOUNT_POINT}`,
    `RUNTIME_MODULES='${moduleNames.join(' ')}'`,
    '',
  ].join('\n');
}

/**
 * Copies `files` into `stage` (at their initramfs paths, with their modes; directories 0755) and
 * builds the image `out` from it. Modes are set explicitly so that the build host's umask never
 * shows in the bytes; owners and times are fixed by the mkfs options.
 */
export function buildRuntimeImage(format: Exclude<RuntimeImageFormat, 'none'>, files: readonly FileEntry[], stage: string, out: string, mtime: number): void {
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  chmodSync(stage, 0o755);
  const made = new Set<string>();
  const makeDirectory = (path: string): void => {
    if (path === '/' || made.has(path)) return;
    makeDirectory(posix.dirname(path));
    mkdirSync(join(stage, path), { recursive: true });
    chmodSync(join(stage, path), 0o755);
    made.add(path);
  };
  for (const file of files) {
    makeDirectory(posix.dirname(file.path));
    const target = join(stage, file.path);
    copyFileSync(file.source, target);
    chmodSync(target, file.mode);
    const size = statSync(target).size;
    if (size !== file.size) throw new Error(`${file.source} changed size while being staged (${file.size} → ${size})`);
  }
  rmSync(out, { force: true });
  const [program, ...args] = FORMATS[format].mkfs(stage, out, mtime);
  // mksquashfs refuses SOURCE_DATE_EPOCH beside its time options; the options say it all.
  const { SOURCE_DATE_EPOCH: _, ...env } = process.env;
  const result = spawnSync(program ?? 'false', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env });
  if (result.error) throw new Error(`cannot run ${program} (${format === 'erofs' ? 'erofs-utils' : 'squashfs-tools'}): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${program} failed (exit ${result.status ?? result.signal}): ${(result.stderr + result.stdout).trim()}`);
  rmSync(stage, { recursive: true, force: true });
}
