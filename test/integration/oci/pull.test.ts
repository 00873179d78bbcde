import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage, unpackImage } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-pull-'));
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('pull and unpack from a real registry', () => {
  it('applies layers in order with whiteouts, opaque directories, links and modes', async () => {
    const layout = join(work, 'layout-basic');
    await buildImageLayout(layout, 'v1', {
      layers: [
        {
          files: [
            { path: 'etc/', type: 'directory' },
            { path: 'etc/hostname', content: 'lower\n' },
            { path: 'etc/removed', content: 'gone\n' },
            { path: 'opaque/', type: 'directory' },
            { path: 'opaque/old', content: 'old\n' },
            { path: 'bin/', type: 'directory' },
            { path: 'bin/tool', content: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1000 },
            { path: 'bin/alias', type: 'link', linkTarget: 'bin/tool' },
            { path: 'lib', type: 'symlink', linkTarget: 'usr/lib' },
            { path: 'usr/lib/', type: 'directory' },
          ],
        },
        {
          compression: 'zstd',
          files: [
            { path: 'etc/.wh.removed' },
            { path: 'etc/hostname', content: 'upper\n' },
            { path: 'opaque/.wh..wh..opq' },
            { path: 'opaque/new', content: 'new\n' },
            { path: 'lib/libx.so', content: 'ELF' },
            { path: 'tmp/', type: 'directory', mode: 0o1777 },
          ],
        },
      ],
    });
    const reference = await pushLayout(layout, 'v1', registry);
    const store = new ContentStore(join(work, 'store'));
    const pulled = await pullImage(reference, { store, tlsVerify: false });
    expect(pulled.layers).toHaveLength(2);
    expect(pulled.blobsDownloaded).toBe(3);
    const target = join(work, 'rootfs-basic');
    await unpackImage(pulled, target, { store });
    expect(readFileSync(join(target, 'etc/hostname'), 'utf8')).toBe('upper\n');
    expect(existsSync(join(target, 'etc/removed'))).toBe(false);
    expect(readdirSync(join(target, 'opaque'))).toEqual(['new']);
    expect(readlinkSync(join(target, 'lib'))).toBe('usr/lib');
    expect(readFileSync(join(target, 'usr/lib/libx.so'), 'utf8')).toBe('ELF');
    const tool = lstatSync(join(target, 'bin/tool'));
    expect(tool.mode & 0o7777).toBe(0o4755);
    expect([tool.uid, tool.gid]).toEqual([1000, 1000]);
    expect(lstatSync(join(target, 'bin/alias')).ino).toBe(tool.ino);
    expect(lstatSync(join(target, 'tmp')).mode & 0o7777).toBe(0o1777);

    const again = await pullImage(reference, { store, tlsVerify: false });
    expect(again.blobsDownloaded).toBe(0);
    expect(again.bytesDownloaded).toBe(0);
    expect(again.manifestDigest).toBe(pulled.manifestDigest);
  });
});
