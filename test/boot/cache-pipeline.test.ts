// The cache with the pipeline running containers, booted for real: a second boot downloads no blob,
// named volumes persist (pipeline_end ones do not), a digest-pinned image runs through a registry
// outage, and power cuts during a pull or during volume writes never break the next boot.
// The registry sits behind a recording proxy, so the test counts the guest's requests.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, type BootResult } from '../../qemu/harness.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { buildImageLayout, pushLayout, type ImageSpec } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { contentAt, createBlankImage, ext4IsClean, listImageDirectory, partitionOffset } from '../integration/cache/disk-image.ts';
import { bootAndCutPower } from '../integration/cache/power-cut.ts';

let registry: TestRegistry;
let proxy: FaultProxy;
let work: string;
let image: string;
/** Two images of 40 MB of their own data each, for the collection test. */
const crowd: { reference: string; bulkDigest: string }[] = [];

const GIB = 1024 ** 3;

/** The demo image plus 24 MB of incompressible data, so a pull lasts long enough to be cut. */
function bulkySpec(): ImageSpec {
  const demo = demoImageSpec();
  return { ...demo, layers: [...demo.layers, { files: [{ path: 'data/bulk.bin', content: randomBytes(24 * 1024 * 1024) }], compression: 'gzip' }] };
}

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.host);
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-cache-pipeline-'));
  await buildImageLayout(join(work, 'layout'), 'cache', bulkySpec());
  const pushed = await pushLayout(join(work, 'layout'), 'cache', registry, { name: 'ocinit/cache' });
  image = pushed.replace(registry.host, `10.0.2.2:${proxy.port}`);
  for (const tag of ['older', 'newer']) {
    const demo = demoImageSpec();
    const built = await buildImageLayout(join(work, tag), tag, { ...demo, layers: [...demo.layers, { files: [{ path: 'data/bulk.bin', content: randomBytes(40 * 1024 * 1024) }], compression: 'gzip' }] });
    const reference = await pushLayout(join(work, tag), tag, registry, { name: 'ocinit/crowd' });
    crowd.push({ reference: reference.replace(registry.host, `10.0.2.2:${proxy.port}`), bulkDigest: built.layers[1]?.digest ?? '' });
  }
}, 120_000);

afterAll(async () => {
  await proxy.stop().catch(() => undefined);
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

function blobGets(): number {
  return proxy.requests.filter((request) => request.method === 'GET' && request.path.includes('/blobs/')).length;
}

function container(reference: string, command: string, flags = ''): string {
  return `b2c.container="--tls-verify=false ${flags} ${reference} sh -c '${command}'"`;
}

async function bootJob(disk: string, append: string[]): Promise<BootResult> {
  return boot({ disks: [disk], append: ['b2c.cache_device=auto', 'b2c.cache_wait=3', ...append], timeoutSeconds: 420 });
}

function expectSuccess(result: BootResult): void {
  if (result.status !== 0) process.stderr.write(result.console);
  expect(result.kernelPanic).toBe(false);
  expect(result.timedOut).toBe(false);
  expect(result.status).toBe(0);
}

/** Boots and SIGKILLs QEMU (a PDU cutting power) once the console shows `when`. */
async function cutPowerWhen(disk: string, append: string[], when: RegExp): Promise<void> {
  const result = await bootAndCutPower({ disks: [disk], append: ['b2c.cache_device=auto', 'b2c.cache_wait=3', ...append], timeoutSeconds: 420 }, when);
  expect(result.cut).toBe(true);
  expect(result.status).toBeUndefined();
}

const VOLUMES = ['b2c.volume=keep', 'b2c.volume=scratchpad,expiration=pipeline_end'];

describe('cache with the pipeline', () => {
  it('second boot downloads no blob; volumes persist unless pipeline_end; swap is active during the job; a digest-pinned image runs through an outage', async () => {
    const disk = join(work, 'cache.img');
    createBlankImage(disk, 2 * GIB);

    proxy.requests.splice(0);
    const first = await bootJob(disk, [
      ...VOLUMES,
      container(image, 'echo boot-one > /keep/note; echo temporary > /scratchpad/note; test -s /data/bulk.bin && echo BULK-OK', '-v keep:/keep -v scratchpad:/scratchpad'),
    ]);
    expectSuccess(first);
    expect(first.console).toContain('BULK-OK');
    const firstGets = blobGets();
    expect(firstGets).toBeGreaterThanOrEqual(3);
    const digest = /Pulled \S+@(sha256:[0-9a-f]{64})/.exec(first.console)?.[1];
    expect(digest).toBeDefined();

    proxy.requests.splice(0);
    const second = await bootJob(disk, [
      ...VOLUMES,
      'b2c.swap=32M',
      container(image, 'echo keep says $(cat /keep/note); ls -A /scratchpad | wc -l | sed s/^/scratchpad-entries=/; grep -c ^/storage/swapfile /proc/swaps | sed s/^/swap-files-in-use=/', '-v keep:/keep -v scratchpad:/scratchpad'),
    ]);
    expectSuccess(second);
    expect(second.console).toContain('keep says boot-one');
    expect(second.console).toContain('scratchpad-entries=0');
    expect(second.console).toContain('swap-files-in-use=1');
    expect(blobGets()).toBe(0);
    expect(proxy.requests.some((request) => request.path.includes('/manifests/'))).toBe(true);

    const pinned = `${image.replace(/:cache$/, '')}@${digest ?? ''}`;
    await proxy.stop();
    const offline = await bootJob(disk, [container(pinned, 'echo ran while the registry was down')]);
    expectSuccess(offline);
    expect(offline.console).toContain('ran while the registry was down');
    expect(offline.console).toMatch(/cannot reach registry|did not answer/);
    expect(offline.console).toMatch(/REGISTRY UNREACHABLE: running \S+ from the cache \(sha256:[0-9a-f]{64}, as last pulled\) because b2c.cache_offline=digest/);
    proxy = await startFaultProxy(registry.host);
    image = image.replace(/:\d+\//, `:${proxy.port}/`);
  });

  it('power cut during a pull and during volume writes: every next boot succeeds on intact cached data', async () => {
    const disk = join(work, 'power.img');
    createBlankImage(disk, 2 * GIB);
    const check = container(image, 'test -s /data/bulk.bin && sha256sum /data/bulk.bin | cut -c1-16 | sed s/^/BULK-/; ls /keep > /dev/null && echo VOLUME-OK', '-v keep:/keep');
    const writer = container(image, 'echo WRITING; i=0; while [ $i -lt 400 ]; do head -c 262144 /dev/urandom > /keep/blob.$i; i=$((i+1)); done; echo WROTE', '-v keep:/keep');
    const sums: string[] = [];
    const bootAndCheck = async (): Promise<void> => {
      const result = await bootJob(disk, ['b2c.volume=keep', check]);
      expectSuccess(result);
      expect(result.console).toContain('VOLUME-OK');
      const sum = /BULK-([0-9a-f]{16})/.exec(result.console)?.[1];
      expect(sum).toBeDefined();
      sums.push(sum ?? '');
    };

    await cutPowerWhen(disk, ['b2c.volume=keep', check], /Pulling /);
    await bootAndCheck();
    await cutPowerWhen(disk, ['b2c.volume=keep', writer], /WRITING/);
    await bootAndCheck();
    // Cut again while the cache holds the image: the unpacked tree is rebuilt from verified blobs.
    await cutPowerWhen(disk, ['b2c.volume=keep', 'b2c.cache_verify', check], /BULK-/);
    const last = await bootJob(disk, ['b2c.volume=keep', 'b2c.cache_verify', check]);
    expectSuccess(last);
    expect(last.console).toContain('did not shut down cleanly');
    expect(last.console).toMatch(/re-verified \d+ blob\(s\), discarded 0/);
    sums.push(/BULK-([0-9a-f]{16})/.exec(last.console)?.[1] ?? '');
    expect(new Set(sums).size).toBe(1);
    const offset = partitionOffset(disk, 1);
    expect(contentAt(disk, offset)).toEqual({ kind: 'ext', label: 'B2C_CACHE' });
    expect(ext4IsClean(disk, offset)).toBe(true);
  });

  it('cache full: an image not used by this boot is collected to keep b2c.cache_min_free, and the job runs', async () => {
    const disk = join(work, 'small.img');
    createBlankImage(disk, 512 * 1024 ** 2);
    const [older, newer] = crowd;
    if (older === undefined || newer === undefined) throw new Error('images missing');
    const reference = (entry: { reference: string }): string => entry.reference.replace(/:\d+\//, `:${proxy.port}/`);
    // 40 MB of blobs plus 40 MB unpacked per image: with 400 MB wanted free, the older one must go.
    const first = await bootJob(disk, ['b2c.cache_min_free=400M', container(reference(older), 'echo older ran')]);
    expectSuccess(first);
    const second = await bootJob(disk, ['b2c.cache_min_free=400M', container(reference(newer), 'echo newer ran')]);
    expectSuccess(second);
    expect(second.console).toMatch(/below b2c.cache_min_free .*: collecting unused images/);
    expect(second.console).toMatch(/cache: removed \S+:older \(last used/);
    expect(second.console).toContain('newer ran');
    const offset = partitionOffset(disk, 1);
    const blobs = listImageDirectory(disk, offset, '/store/blobs/sha256');
    expect(blobs).not.toContain(older.bulkDigest.replace('sha256:', ''));
    expect(blobs).toContain(newer.bulkDigest.replace('sha256:', ''));
  });
});
