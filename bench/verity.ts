// bench/verity: what b2c.image_format=erofs adds per image, on the debian-minbase tree (build/bench,
// made once by debootstrap): mkfs.erofs, then ocinit's dm-verity hash tree beside `veritysetup
// format` of the same image (the peer), and reading every file from the tree beside from the EROFS
// image mounted through a loop device (the host has no dm-verity; the boot test shows it works).
// usage: bench/verity [--runs N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hashTreeOfFile, VERITY_BLOCK_SIZE } from '../src/verity/hash-tree.ts';
import { verityParameters } from '../src/verity/image.ts';
import { formatUuid } from '../src/verity/identity.ts';
import { mkfsErofsArgs } from '../src/system/erofs.ts';
import { ensureRootfs, ROOTFS } from './inputs.ts';
import { median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number.parseInt(values.runs ?? '5', 10);
const DIGEST = `sha256:${'5a'.repeat(32)}`;

ensureRootfs();
const work = mkdtempSync(join(tmpdir(), 'ocinit-bench-verity-'));
const seconds = (body: () => unknown): number => {
  const started = performance.now();
  body();
  return (performance.now() - started) / 1000;
};
const asyncSeconds = async (body: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await body();
  return (performance.now() - started) / 1000;
};
const dropCaches = (): void => {
  execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true']);
};
const readAll = (dir: string): void => void execFileSync('sh', ['-c', `tar -cf - -C ${dir} . | cat >/dev/null`]);

const samples = { mkfs: [] as number[], ocinit: [] as number[], veritysetup: [] as number[], readTree: [] as number[], readErofs: [] as number[] };
const image = join(work, 'image.erofs');
const mountPoint = join(work, 'mnt');
mkdirSync(mountPoint);
const parameters = verityParameters(DIGEST);
let bytes = 0;
try {
  for (let run = 0; run < runs; run++) {
    rmSync(image, { force: true });
    const [mkfs = 'mkfs.erofs', ...mkfsArgs] = mkfsErofsArgs(ROOTFS, image, formatUuid(parameters.uuid));
    samples.mkfs.push(seconds(() => execFileSync(mkfs, mkfsArgs)));
    bytes = statSync(image).size;
    const blocks = Math.ceil(bytes / VERITY_BLOCK_SIZE) * VERITY_BLOCK_SIZE;
    execFileSync('truncate', ['-s', String(blocks), image]);
    samples.ocinit.push(await asyncSeconds(() => hashTreeOfFile(image, blocks, parameters)));
    samples.veritysetup.push(seconds(() => execFileSync('veritysetup', ['format', '--salt', parameters.salt.toString('hex'), '--uuid', formatUuid(parameters.uuid), image, join(work, 'hashes')])));
    dropCaches();
    samples.readTree.push(seconds(() => readAll(ROOTFS)));
    execFileSync('mount', ['-t', 'erofs', '-o', 'loop,ro', image, mountPoint]);
    try {
      dropCaches();
      samples.readErofs.push(seconds(() => readAll(mountPoint)));
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  }
  const m = Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, median(list)])) as Record<keyof typeof samples, number>;
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}; node ${process.version}; ${execFileSync('dpkg-query', ['-W', '-f=${Package} ${Version}; ', 'erofs-utils', 'cryptsetup-bin']).toString()}${runs} runs, medians`);
  console.log(`debian-minbase tree → EROFS image of ${(bytes / 1e6).toFixed(1)} MB`);
  console.log(`mkfs.erofs:               ${m.mkfs.toFixed(2)} s`);
  console.log(`hash tree, ocinit (Node): ${m.ocinit.toFixed(2)} s; veritysetup format: ${m.veritysetup.toFixed(2)} s; ratio ${(m.ocinit / m.veritysetup).toFixed(2)}`);
  console.log(`build + hash per image:   ${(m.mkfs + m.ocinit).toFixed(2)} s`);
  console.log(`reading every file, cold: tree ${m.readTree.toFixed(2)} s; EROFS over loop ${m.readErofs.toFixed(2)} s; ratio ${(m.readErofs / m.readTree).toFixed(2)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
