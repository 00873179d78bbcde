// Additional image stores against real containers-storage overlay stores written by skopeo
// (`containers-storage:[overlay@ROOT+RUN]`): found by name or id, rebuilt and verified layer by
// layer, and refused, naming the store, when anything in them does not match its digest.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../../qemu/demo-image.ts';
import { unpackTarStreams } from '../../../src/oci/unpack.ts';
import { ContainersStore, type StoredImage } from '../../../src/store/containers-storage.ts';
import { copyToStore, removeStores } from '../../support/containers-storage.ts';
import { buildImageLayout } from '../../support/image.ts';

let work: string;
let configDigest: string;

/** A fresh copy of the store, to tamper with. */
function storeCopy(name: string): string {
  const copy = join(work, name);
  execFileSync('cp', ['-a', join(work, 'store'), copy]);
  return copy;
}

function unpack(store: ContainersStore, image: StoredImage, target: string): Promise<void> {
  return unpackTarStreams(image.layers.map((layer) => ({ diffId: layer.diffId, open: () => store.layerTar(layer.id) })), target, image.id);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-containers-storage-'));
  const demo = demoImageSpec();
  const built = await buildImageLayout(join(work, 'layout'), 'demo', { ...demo, layers: [...demo.layers, { files: [{ path: 'opt/job/input.txt', content: 'from the second layer\n' }], compression: 'gzip' }] });
  configDigest = built.config.digest;
  copyToStore(join(work, 'layout'), 'demo', 'overlay', join(work, 'store'), join(work, 'run'), 'gateway.lan/ci/demo:7');
}, 120_000);

afterAll(() => removeStores(work));

describe('containers-storage overlay stores', () => {
  it('finds an image by reference or id, and rebuilds its layers into exactly the tree of the image', async () => {
    const store = new ContainersStore('images', join(work, 'store'));
    const byName = store.find('gateway.lan/ci/demo:7');
    const id = configDigest.replace('sha256:', '');
    expect(byName?.id).toBe(id);
    expect(store.find(id)?.id).toBe(id);
    expect(store.find(id.slice(0, 12))?.layers).toHaveLength(2);
    expect(store.find('gateway.lan/ci/demo:8')).toBeUndefined();
    expect(store.find('docker.io/library/alpine')).toBeUndefined();
    if (byName === undefined) throw new Error('not found');
    const target = join(work, 'rootfs');
    await unpack(store, byName, target);
    expect(readFileSync(join(target, 'opt/job/input.txt'), 'utf8')).toBe('from the second layer\n');
    expect(readFileSync(join(target, 'etc/passwd'), 'utf8')).toContain('demo:x:1000');
  });

  it('refuses a layer whose diff tree holds other bytes, leaving nothing unpacked', async () => {
    const root = storeCopy('tampered');
    const store = new ContainersStore('tampered', root);
    const image = store.find('gateway.lan/ci/demo:7');
    if (image === undefined) throw new Error('not found');
    const top = image.layers[1]?.id ?? '';
    writeFileSync(join(root, 'overlay', top, 'diff', 'opt/job/input.txt'), 'FROM THE SECOND LAYER\n');
    const target = join(work, 'tampered-rootfs');
    await expect(unpack(store, image, target)).rejects.toThrow(/failed verification|diff_id/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(work).filter((entry) => entry.startsWith('.tampered-rootfs'))).toEqual([]);
    // A file of another size is caught before any hashing.
    appendFileSync(join(root, 'overlay', top, 'diff', 'opt/job/input.txt'), 'more');
    await expect(unpack(store, image, target)).rejects.toThrow(/image store tampered: .*input\.txt is not the regular file of 22 bytes its tar-split records/);
  });

  it('refuses, naming the store, a manifest or config that does not match, a missing tar-split, or a store that is not an overlay one', async () => {
    const root = storeCopy('broken');
    const id = configDigest.replace('sha256:', '');
    const configFile = join(root, 'overlay-images', id, `=${Buffer.from(configDigest).toString('base64')}`);
    const original = readFileSync(configFile);
    writeFileSync(configFile, Buffer.concat([original, Buffer.from(' ')]));
    expect(() => new ContainersStore('broken', root).find(id)).toThrow(`image store broken: image ${id.slice(0, 12)}: its config does not hash to ${configDigest}`);
    writeFileSync(configFile, original);

    const store = new ContainersStore('broken', root);
    const image = store.find(id);
    const top = image?.layers[1]?.id ?? '';
    unlinkSync(join(root, 'overlay-layers', `${top}.tar-split.gz`));
    expect(() => store.layerTar(top)).toThrow(/image store broken: layer [0-9a-f]{12} has no tar-split/);

    const vfs = join(work, 'vfs');
    copyToStore(join(work, 'layout'), 'demo', 'vfs', vfs, join(work, 'run-vfs'), 'gateway.lan/ci/demo:7');
    expect(() => new ContainersStore('vfs-store', vfs)).toThrow(/image store vfs-store: cannot read .*overlay-images\/images\.json/);
  });
});
