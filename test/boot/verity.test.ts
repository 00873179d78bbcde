// b2c.image_format=erofs booted for real, three boots on one cache disk: containers run from the
// verity-mounted EROFS image whose root hash `ocinit verity` computes on the host, --read-only is
// W^X; with a TPM (Debian's swtpm), that root hash is measured before anything runs from it and the
// PCR the guest reads back is the event log replayed; a byte flipped in the cached image gives EIO and the kernel's verity error, not other bytes;
// a wrong root hash refuses to mount, so nothing of that image runs.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, REPO_ROOT, type BootResult } from '../../qemu/harness.ts';
import { parseSummary } from '../../src/run/summary.ts';
import { EVENT_LOG_MARKER } from '../../src/tpm/boot.ts';
import { replayEventLog, type EventLog } from '../../src/tpm/measure.ts';
import { startSwtpmForQemu } from '../support/swtpm.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createBlankImage, partitionOffset } from '../integration/cache/disk-image.ts';

const run = promisify(execFile);
const GIB = 1024 ** 3;
/** Whole blocks of it, so that its bytes sit in data blocks of their own in the EROFS image. */
const MARKER = 'ocinit-verity-marker-'.repeat(400);

let registry: TestRegistry;
let work: string;
let disk: string;
let hostReference: string;
let guestReference: string;
/** The same image by digest: it shares the tag's verity device. */
let guestByDigest: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-verity-'));
  const demo = demoImageSpec();
  const built = await buildImageLayout(join(work, 'layout'), 'verity', { ...demo, layers: [...demo.layers, { files: [{ path: 'data/marker.txt', content: Buffer.from(MARKER) }], compression: 'gzip' }] });
  hostReference = await pushLayout(join(work, 'layout'), 'verity', registry, { name: 'ocinit/verity' });
  guestReference = hostReference.replace(registry.host, `10.0.2.2:${registry.port}`);
  guestByDigest = `${guestReference.replace(/:[^:/]+$/, '')}@${built.manifest.digest}`;
  disk = join(work, 'cache.img');
  createBlankImage(disk, GIB);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function container(command: string, flags = '', reference = guestReference): string {
  return `b2c.container="--tls-verify=false ${flags} ${reference} sh -c '${command}'"`;
}

async function bootJob(containers: string[], options: { tpm?: boolean } = {}): Promise<BootResult> {
  const append = ['b2c.cache_device=auto', 'b2c.cache_wait=3', 'b2c.image_format=erofs', ...containers];
  if (options.tpm !== true) return boot({ disks: [disk], append, timeoutSeconds: 420 });
  const tpm = await startSwtpmForQemu();
  try {
    return await boot({ disks: [disk], append, timeoutSeconds: 420, extraArgs: tpm.qemuArgs });
  } finally {
    await tpm.stop();
  }
}

interface VerityEvent {
  image: string;
  manifest: string;
  rootHash: string;
  dataBlocks: number;
  source: string;
}

/** The last event log the guest printed, the PCR it read back after its last extend, and the verity events. */
function measuredBoot(console: string): { log: EventLog; readBack: Record<string, string>; verity: VerityEvent[] } {
  const lines = console.split(/\r?\n/);
  const logLine = lines.filter((line) => line.includes(EVENT_LOG_MARKER)).at(-1) ?? '';
  const log = JSON.parse(logLine.slice(logLine.indexOf(EVENT_LOG_MARKER) + EVENT_LOG_MARKER.length)) as EventLog;
  const readBackLine = lines.filter((line) => /tpm: PCR 15 after /.test(line)).at(-1) ?? '';
  const readBack = Object.fromEntries([...readBackLine.matchAll(/(\w+)=([0-9a-f]+)/g)].map((match) => [match[1] ?? '', match[2] ?? '']));
  const verity = log.events.filter((event) => event.type === 'verity').map((event) => JSON.parse(event.data) as VerityEvent);
  return { log, readBack, verity };
}

function debugfs(request: string, write = false): string {
  return execFileSync('debugfs', [...(write ? ['-w'] : []), '-R', request, `${disk}?offset=${partitionOffset(disk, 1)}`], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

/** The cache's verity image of the pushed image, copied out of the disk. */
function dumpVerityImage(manifestDigest: string): { file: string; inCache: string } {
  const inCache = `/images/${manifestDigest.replace(':', '-')}.erofs`;
  const file = join(work, 'dumped.erofs');
  rmSync(file, { force: true });
  debugfs(`dump ${inCache} ${file}`);
  return { file, inCache };
}

/** Flips one byte of the cached image's file, at `offset` in that file, on the raw disk. */
function flipByte(inCache: string, offset: number): void {
  const blockSize = Number(/Block size:\s+(\d+)/.exec(debugfs('stats'))?.[1]);
  const physical = Number(debugfs(`bmap ${inCache} ${Math.floor(offset / blockSize)}`).trim());
  expect(physical).toBeGreaterThan(0);
  const position = partitionOffset(disk, 1) + physical * blockSize + (offset % blockSize);
  const fd = openSync(disk, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ 0x20;
    writeSync(fd, byte, 0, 1, position);
  } finally {
    closeSync(fd);
  }
}

describe('b2c.image_format=erofs', () => {
  let manifestDigest = '';
  let rootHash = '';

  it('runs containers and switch_root from the verity-mounted image under the root hash ocinit verity prints, measured into the TPM first; --read-only is W^X', async () => {
    const result = await bootJob(
      [
        container('head -c 21 /data/marker.txt; echo; echo marker-shown'),
        container('touch /usr/written 2>/dev/null && echo usr-writable || echo usr-refused; cp /bin/busybox /tmp/bb && echo tmp-writable; /tmp/bb true 2>/dev/null && echo tmp-executes || echo tmp-refused', '--read-only', guestByDigest),
        // The new init writes to its root: a RAM overlay over the EROFS image.
        `b2c.switch_root="--tls-verify=false ${guestReference} /bin/sh -c 'touch /written && echo switched-root-writable; poweroff -f'"`,
      ],
      { tpm: true },
    );
    if (result.status !== 0) process.stderr.write(result.console);
    expect(result.kernelPanic).toBe(false);
    expect(result.status).toBe(0);
    expect(result.console).toMatch(/ocinit-verity-marker-\r?\nmarker-shown/);
    expect(result.console).toMatch(/usr-refused\r?\ntmp-writable\r?\ntmp-refused/);
    const summary = parseSummary(result.console);
    const records = summary?.containers ?? [];
    expect(records).toHaveLength(3);
    manifestDigest = records[0]?.digest ?? '';
    rootHash = records[0]?.rootHash ?? '';
    expect(rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect(records[1]?.rootHash).toBe(rootHash);
    expect(records[2]).toMatchObject({ parameter: 'b2c.switch_root', outcome: 'switched', rootHash });
    expect(result.console).toMatch(/\nswitched-root-writable\r?\n/);
    // One verity device for the image, whether named by tag or by digest (then by switch_root, in RAM).
    expect(result.console.match(/mounted through dm-verity/g)).toHaveLength(2);

    const store = join(work, 'host-store');
    const { stdout } = await run(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'dist/cli.js'), 'verity', '--tls-verify=false', '--store', store, hostReference]);
    expect(stdout.trim()).toBe(rootHash);

    // The TPM: one verity event per verity device (the cache disk's image, then switch_root's in
    // RAM), each carrying the root hash ocinit verity printed and the manifest digest it is bound to,
    // printed before the first container's output; the PCR read back is the whole log replayed.
    const measured = measuredBoot(result.console);
    expect(measured.verity).toEqual([
      { image: guestReference, manifest: manifestDigest, rootHash, dataBlocks: expect.any(Number), source: 'built' },
      { image: guestReference, manifest: manifestDigest, rootHash, dataBlocks: expect.any(Number), source: 'built' },
    ]);
    expect(measured.log.events.map((event) => event.type)).toEqual(['cmdline', 'image', 'verity', 'image', 'image', 'verity']);
    const firstVerityLog = result.console.search(new RegExp(`${EVENT_LOG_MARKER}.*\\\\"rootHash\\\\":\\\\"${rootHash}`));
    expect(firstVerityLog).toBeGreaterThan(0);
    expect(firstVerityLog).toBeLessThan(result.console.search(/\nmarker-shown\r?\n/));
    expect(measured.readBack.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(replayEventLog(measured.log)).toEqual(measured.readBack);

    // The image the DUT left on its cache disk, checked by veritysetup on the host.
    const { file } = dumpVerityImage(manifestDigest);
    const record = JSON.parse(debugfs(`cat /images/${manifestDigest.replace(':', '-')}.erofs.json`)) as { dataBytes: number; rootHash: string };
    expect(record.rootHash).toBe(rootHash);
    await run('veritysetup', ['verify', `--hash-offset=${record.dataBytes}`, file, file, rootHash]);
  });

  it('gives EIO and the kernel verity error, never other bytes, once a byte of the cached image changed', async () => {
    expect(rootHash).not.toBe('');
    const { file, inCache } = dumpVerityImage(manifestDigest);
    const offset = readFileSync(file).indexOf(MARKER.slice(0, 4096));
    expect(offset).toBeGreaterThan(0);
    flipByte(inCache, offset + 100);
    const result = await bootJob([container('cat /data/marker.txt > /dev/null && echo marker-read')], { tpm: true });
    expect(result.kernelPanic).toBe(false);
    expect(result.console).toContain('EROFS image from the cache');
    // The record is reused, so the root hash measured is still the good one: the kernel is what
    // refuses the changed block, below.
    expect(measuredBoot(result.console).verity).toEqual([expect.objectContaining({ rootHash, source: 'cache' })]);
    // (The command line, echoed on the console, holds the word too: look for it as a line of output.)
    expect(result.console).not.toMatch(/\nmarker-read\r?\n/);
    expect(result.console).toMatch(/I\/O error|Input\/output error/);
    expect(result.console).toMatch(/verity.*data block \d+ is corrupted/);
    expect(parseSummary(result.console)?.notices).toEqual([expect.stringMatching(/^VERITY: \S+: its EROFS image failed dm-verity \(data block \d+/)]);
    expect(result.status).not.toBe(0);
  });

  it('refuses to mount the image under a wrong root hash, and runs nothing of it', async () => {
    const recordPath = `/images/${manifestDigest.replace(':', '-')}.erofs.json`;
    const record = JSON.parse(debugfs(`cat ${recordPath}`)) as { rootHash: string };
    const wrong = `${record.rootHash.slice(0, 63)}${record.rootHash.endsWith('0') ? '1' : '0'}`;
    const hostCopy = join(work, 'record.json');
    writeFileSync(hostCopy, `${JSON.stringify({ ...record, rootHash: wrong })}\n`);
    debugfs(`rm ${recordPath}`, true);
    debugfs(`write ${hostCopy} ${recordPath}`, true);
    const result = await bootJob([container('echo container-ran')], { tpm: true });
    expect(result.kernelPanic).toBe(false);
    expect(result.console).toContain(`does not mount under its root hash ${wrong}`);
    // What the record said was measured before the kernel was given it: a verifier comparing the
    // log with ocinit verity's root hash sees the disk's record changed, even had it mounted.
    const measured = measuredBoot(result.console);
    expect(measured.verity).toEqual([expect.objectContaining({ manifest: manifestDigest, rootHash: wrong, source: 'cache' })]);
    expect(replayEventLog(measured.log)).toEqual(measured.readBack);
    expect(result.console).not.toMatch(/\ncontainer-ran\r?\n/);
    // b2c's outcome: a container whose image cannot be had fails in its turn with status 1.
    expect(result.status).toBe(1);
  });
});
