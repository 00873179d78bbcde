import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage, unpackImage, unpackLayers, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { describeTree } from '../../support/tree.ts';

let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-layers-'));
});

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('layers unpacked one by one for overlayfs', () => {
  it('gives, mounted as overlayfs lowerdirs, the same tree as flattening; reused and collected by the store', async () => {
    const layout = join(work, 'layout');
    await buildImageLayout(layout, 'v1', {
      layers: [
        {
          files: [
            { path: 'etc/', type: 'directory' },
            { path: 'etc/keep', content: 'keep' },
            { path: 'etc/drop', content: 'drop' },
            { path: 'var/', type: 'directory' },
            { path: 'var/cache/', type: 'directory' },
            { path: 'var/cache/old', content: 'old' },
            { path: 'bin/', type: 'directory' },
            { path: 'bin/su', content: 'su', mode: 0o4755, uid: 0, gid: 0 },
            { path: 'bin/su-link', type: 'link', linkTarget: 'bin/su' },
            { path: 'bin/sh', type: 'symlink', linkTarget: 'dash' },
            { path: 'gone/', type: 'directory' },
            { path: 'gone/file', content: 'x' },
          ],
        },
        {
          compression: 'zstd',
          files: [
            { path: 'etc/', type: 'directory' },
            { path: 'etc/.wh.drop' },
            { path: 'etc/new', content: 'new', uid: 7, gid: 8, mode: 0o600 },
            { path: 'var/', type: 'directory' },
            { path: 'var/cache/', type: 'directory', mode: 0o700 },
            { path: 'var/cache/.wh..wh..opq' },
            { path: 'var/cache/fresh', content: 'fresh' },
            { path: '.wh.gone' },
          ],
        },
      ],
    });
    const reference = await pushLayout(layout, 'v1', registry, { name: 'test/layers' });
    const store = new ContentStore(join(work, 'store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    const flat = join(work, 'flat');
    await unpackImage(pulled, flat, { store });

    const dirs = await unpackLayers(pulled, { store });
    expect(dirs).toEqual(pulled.layers.map((layer) => store.layerDir(layer.diffId)));
    const whiteout = lstatSync(join(dirs[1] ?? '', 'etc/drop'));
    expect([whiteout.isCharacterDevice(), whiteout.rdev]).toEqual([true, 0]);
    expect(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(dirs[1] ?? '', 'var/cache')], { encoding: 'utf8' })).toBe('y');
    expect(existsSync(join(dirs[1] ?? '', 'etc/.wh.drop'))).toBe(false);

    const mountpoint = join(work, 'merged');
    mkdirSync(mountpoint);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${[...dirs].reverse().join(':')}`, mountpoint]);
    try {
      const merged = describeTree(mountpoint);
      const expected = describeTree(flat);
      expect([...merged.keys()]).toEqual([...expected.keys()]);
      for (const [path, description] of expected) expect(`${path}: ${merged.get(path) ?? 'missing'}`).toBe(`${path}: ${description}`);
    } finally {
      execFileSync('umount', [mountpoint]);
    }

    const before = lstatSync(dirs[0] ?? '').ino;
    expect(await unpackLayers(pulled, { store })).toEqual(dirs);
    expect(lstatSync(dirs[0] ?? '').ino).toBe(before);
    const collected = await store.gc([]);
    expect(collected.removed).toContain(`layer ${pulled.layers[0]?.diffId}`);
    expect(existsSync(dirs[0] ?? '')).toBe(false);
  });
});
