// b2c.storage=additionalimagestores booted for real: a containers-storage overlay store (written by
// skopeo, as podman writes CI-tron's) on an ext4 disk, named by a b2c.filesystem; the job names its
// image by id, as CI-tron's diskless jobs do, and no registry exists: it can only come from the store.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot } from '../../qemu/harness.ts';
import { copyToStore, removeStores } from '../support/containers-storage.ts';
import { buildImageLayout } from '../support/image.ts';

let work: string;
let imageId: string;
let disk: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-image-stores-'));
  const demo = demoImageSpec();
  const built = await buildImageLayout(join(work, 'layout'), 'job', { ...demo, layers: [...demo.layers, { files: [{ path: 'opt/job/input.txt', content: 'from the image store\n' }], compression: 'gzip' }] });
  imageId = built.config.digest.replace('sha256:', '');
  copyToStore(join(work, 'layout'), 'job', 'overlay', join(work, 'store'), join(work, 'run'), 'gateway.lan/ci/job:1');
  disk = join(work, 'store.img');
  execFileSync('mke2fs', ['-q', '-t', 'ext4', '-d', join(work, 'store'), '-L', 'IMAGES', disk, '64M']);
}, 120_000);

afterAll(() => removeStores(work));

describe('b2c.storage=additionalimagestores', () => {
  it('runs an image found by id in a store on a b2c.filesystem, verified, without any registry', async () => {
    const result = await boot({
      disks: [disk],
      append: ['b2c.filesystem=images,src=/dev/vda,type=ext4', 'b2c.storage=additionalimagestores=images', `b2c.container="${imageId.slice(0, 12)} cat /opt/job/input.txt"`],
      timeoutSeconds: 240,
    });
    if (result.status !== 0) process.stderr.write(result.console);
    expect(result.kernelPanic).toBe(false);
    expect(result.status).toBe(0);
    expect(result.console).toContain('Image store images: /dev/vda mounted read-only');
    expect(result.console).toMatch(/from image store images, verified, not pulled/);
    expect(result.console).toContain('from the image store');
  });
});
