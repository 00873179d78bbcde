// bench/sizes: the initramfs's size under each COMPRESS=, and the transfer time it implies over
// TFTP/HTTP at 10 and 100 MB/s. The runtime image (initrd/runtime-image.ts) is stored as it is, so
// COMPRESS only changes the cpio beside it: this compresses the cpio of the last `make initrd`
// (build/initrd.cpio, kept beside the compressed file) with each compressor at its default level.
// usage: bench/sizes   (after make initrd with the default RUNTIME_IMAGE and COMPRESS)
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { COMPRESSIONS, COMPRESSORS } from '../initrd/compressors.ts';
import { writeCpio } from '../initrd/cpio.ts';
import { RUNTIME_IMAGE_FORMATS, RUNTIME_IMAGE_PATH } from '../initrd/runtime-image.ts';
import { REPO_ROOT } from '../qemu/harness.ts';

const rest = join(REPO_ROOT, 'build/initrd.cpio');
// The last build's image: the newest of those a build with each RUNTIME_IMAGE= leaves.
const image = RUNTIME_IMAGE_FORMATS.filter((format) => format !== 'none')
  .map((format) => join(REPO_ROOT, `build/runtime.${format}`))
  .filter(existsSync)
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
if (!existsSync(rest)) throw new Error(`${rest} is missing: run make initrd (with a compressed COMPRESS, which keeps the cpio)`);

/** Bytes the runtime image's own archive takes in the initramfs (headers, the image, the trailer). */
async function imageArchiveSize(file: string): Promise<number> {
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  return writeCpio([{ type: 'file', path: RUNTIME_IMAGE_PATH, mode: 0o444, source: file, size: statSync(file).size }], discard, 0);
}

const stored = image === undefined ? 0 : await imageArchiveSize(image);
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const lines = [
  `runtime image ${image === undefined ? 'none' : `${mb(stored)} MB stored`}; the cpio beside it ${mb(statSync(rest).size)} MB uncompressed`,
  '',
  '| COMPRESS= | initramfs (MB) | at 10 MB/s (s) | at 100 MB/s (s) |',
  '|---|---|---|---|',
];
for (const compression of COMPRESSIONS) {
  let compressed = statSync(rest).size;
  if (compression !== 'none') {
    const [program, ...args] = COMPRESSORS[compression](rest, undefined);
    const result = spawnSync(program ?? 'false', args, { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'inherit'] });
    if (result.error !== undefined || result.status !== 0) throw new Error(`${program} failed${result.error ? `: ${result.error.message}` : ''}`);
    compressed = result.stdout.length;
  }
  const total = stored + compressed;
  lines.push(`| ${compression} | ${mb(total)} | ${(total / 10e6).toFixed(1)} | ${(total / 100e6).toFixed(2)} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
