// The compressors an initramfs can be built with (COMPRESS=), each writing `file` compressed to
// stdout; levels are the defaults GUIDE.md measured. Shared by initrd/build.ts and bench/sizes.
export const COMPRESSIONS = ['zstd', 'xz', 'lz4', 'gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const COMPRESSORS: Record<Exclude<Compression, 'none'>, (file: string, level: string | undefined) => string[]> = {
  zstd: (file, level) => ['zstd', '-q', '-c', '-T2', `-${level ?? '19'}`, file],
  // The kernel's xz decoder only knows CRC32 checks.
  xz: (file, level) => ['xz', '-q', '-c', '-T1', '--check=crc32', `-${level ?? '9'}`, file],
  lz4: (file, level) => ['lz4', '-q', '-c', '-l', `-${level ?? '9'}`, file],
  gzip: (file, level) => ['gzip', '-n', '-c', `-${level ?? '6'}`, file],
};

export function parseCompression(text: string): Compression | undefined {
  return (COMPRESSIONS as readonly string[]).includes(text) ? (text as Compression) : undefined;
}
