// The arm64 initramfs (make initrd ARCH=arm64) in qemu-system-aarch64 -M virt under TCG: it runs an
// arm64 container, picks the arm64 image of a multi-arch index (the amd64 one could not even exec
// there), and keeps its cache on a disk. Timeouts are sized for TCG emulating another architecture
// on 2 shared cores (a boot that pulls and runs takes 45-90 s here).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec, type DemoBusybox } from '../../qemu/demo-image.ts';
import { boot, REPO_ROOT } from '../../qemu/harness.ts';
import { defaultSysroot, describeTarget } from '../../initrd/target.ts';
import { buildImageLayout, pushLayout, tagLayout, writeImage, writeIndex } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { createBlankImage, listImageDirectory, partitionOffset } from '../integration/cache/disk-image.ts';

const BOOT_TIMEOUT_S = 300;
/** Debian's arm64 busybox-static, from the sysroot make initrd ARCH=arm64 unpacked. */
const sysroot = resolve(REPO_ROOT, defaultSysroot('arm64'));
const arm64Busybox: DemoBusybox = { path: join(sysroot, 'bin/busybox'), emulator: describeTarget('arm64', sysroot).emulator };

let registry: TestRegistry;
let work: string;
let arm64Only: string;
let multiArch: string;
let arm64Manifest: string;
let arm64Layers: string[];

const guest = (reference: string): string => reference.replace(registry.host, `10.0.2.2:${registry.port}`);

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-arm64-'));
  const say = (text: string): Record<string, unknown> => ({ Cmd: ['sh', '-c', `echo "${text} on $(uname -m)"`] });

  const single = await buildImageLayout(join(work, 'single'), 'v1', { ...demoImageSpec(say('ran the arm64 image'), arm64Busybox), architecture: 'arm64', variant: 'v8' });
  arm64Layers = single.layers.map((layer) => layer.digest.replace('sha256:', ''));
  arm64Only = guest(await pushLayout(join(work, 'single'), 'v1', registry, { name: 'ocinit/arm64' }));

  // amd64 first in the index, so that taking the first entry would be wrong.
  const layout = join(work, 'multi');
  const amd64 = await writeImage(layout, { ...demoImageSpec(say('ran the amd64 image')), architecture: 'amd64' });
  const arm64 = await writeImage(layout, { ...demoImageSpec(say('ran the arm64 image of the index'), arm64Busybox), architecture: 'arm64', variant: 'v8' });
  arm64Manifest = arm64.manifest.digest;
  const index = await writeIndex(layout, [
    { ...amd64.manifest, platform: { os: 'linux', architecture: 'amd64' } },
    { ...arm64.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ]);
  await tagLayout(layout, 'multi', index);
  multiArch = guest(await pushLayout(layout, 'multi', registry, { name: 'ocinit/multi', all: true }));
}, 180_000);

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('arm64 initramfs in qemu-system-aarch64', () => {
  it('boots, pulls and runs an arm64 container', async () => {
    const result = await boot({ arch: 'arm64', timeoutSeconds: BOOT_TIMEOUT_S, append: [`b2c.container="--tls-verify=false ${arm64Only}"`] });
    expect(result.kernelPanic).toBe(false);
    expect(result.console).toContain('Architecture: aarch64');
    expect(result.console).toContain('ran the arm64 image on aarch64');
    expect(result.status).toBe(0);
  }, (BOOT_TIMEOUT_S + 30) * 1000);

  it('picks linux/arm64 from a multi-arch index', async () => {
    const result = await boot({ arch: 'arm64', timeoutSeconds: BOOT_TIMEOUT_S, append: [`b2c.container="--tls-verify=false ${multiArch}"`] });
    expect(result.kernelPanic).toBe(false);
    expect(result.console).toContain('ran the arm64 image of the index on aarch64');
    expect(result.console).not.toContain('ran the amd64 image');
    expect(result.console).toMatch(new RegExp(`ocinit-summary: .*"digest":"${arm64Manifest}"`));
    expect(result.status).toBe(0);
  }, (BOOT_TIMEOUT_S + 30) * 1000);

  it('keeps the cache on a disk', async () => {
    const disk = join(work, 'cache.img');
    createBlankImage(disk, 1024 ** 3);
    const result = await boot({ arch: 'arm64', disks: [disk], timeoutSeconds: BOOT_TIMEOUT_S, append: ['b2c.cache_device=auto', `b2c.container="--tls-verify=false ${arm64Only}"`] });
    expect(result.kernelPanic).toBe(false);
    expect(result.console).toContain('cache: /dev/vda1 mounted at /storage');
    expect(result.console).not.toContain('stay in RAM');
    expect(result.console).toContain('ran the arm64 image on aarch64');
    expect(result.status).toBe(0);
    expect(listImageDirectory(disk, partitionOffset(disk, 1), '/store/blobs/sha256')).toEqual(expect.arrayContaining(arm64Layers));
  }, (BOOT_TIMEOUT_S + 30) * 1000);
});
