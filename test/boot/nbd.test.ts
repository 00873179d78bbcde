// b2c.nbd booted for real (initrd/ocinit-nbd.c in the guest): Debian's nbd-server on the host's loopback (10.0.2.2 to the guest)
// serves two images; one holds the ext4 behind a job volume, the other becomes the cache device.
// What the container wrote is read back from the image on the host afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot } from '../../qemu/harness.ts';
import { contentAt, createBlankImage, ext4IsClean, formatExt4At, listPartitions, partitionOffset, readImageFile } from '../integration/cache/disk-image.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startNbdServer, type TestNbdServer } from '../support/nbd-server.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const MIB = 1024 * 1024;
let registry: TestRegistry;
let work: string;
let image: string;
const servers: TestNbdServer[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-nbd-'));
  await buildImageLayout(join(work, 'layout'), 'nbd', demoImageSpec());
  image = (await pushLayout(join(work, 'layout'), 'nbd', registry, { name: 'ocinit/nbd' })).replace(registry.host, `10.0.2.2:${registry.port}`);
}, 120_000);

afterAll(async () => {
  for (const server of servers) await server.stop().catch(() => undefined);
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('b2c.nbd', () => {
  it('backs a job volume (b2c.filesystem src=/dev/nbd0) and the cache device (/dev/nbd1) with nbd-server on the host', async () => {
    const data = join(work, 'data.img');
    createBlankImage(data, 64 * MIB);
    formatExt4At(data, 0, 64 * MIB, 'NBD_DATA');
    const cache = join(work, 'cache.img');
    createBlankImage(cache, 1024 * MIB);
    const [dataServer, cacheServer] = [await startNbdServer(data), await startNbdServer(cache)];
    if (dataServer === undefined || cacheServer === undefined) throw new Error('no nbd-server');
    servers.push(dataServer, cacheServer);

    const result = await boot({
      append: [
        `b2c.nbd=/dev/nbd0,host=10.0.2.2,port=${dataServer.port}`,
        `b2c.nbd=nbd1,host=10.0.2.2,port=${cacheServer.port},connections=2`,
        'b2c.cache_device=/dev/nbd1',
        'b2c.filesystem=shared,src=/dev/nbd0,type=ext4',
        'b2c.volume=results,filesystem=shared',
        `b2c.container="--tls-verify=false -v results:/results ${image} sh -c 'echo written-over-nbd > /results/report; sync'"`,
      ],
      timeoutSeconds: 300,
    });
    if (result.status !== 0) process.stderr.write(result.console);
    expect(result.kernelPanic).toBe(false);
    expect(result.status).toBe(0);
    expect(result.console).toContain('/dev/nbd0: attached to 10.0.2.2');
    expect(result.console).toContain('cache: /dev/nbd1p1 mounted at /storage');
    expect(result.console).not.toContain('disconnecting failed');
    // Written only once the cache was unmounted, before the devices were detached.
    expect(result.console).toContain('cache: /dev/nbd1p1 synced and unmounted');

    expect(readImageFile(data, 0, '/report')).toBe('written-over-nbd\n');
    expect(ext4IsClean(data, 0)).toBe(true);
    expect(listPartitions(cache)[0]?.name).toBe('B2C_CACHE');
    const offset = partitionOffset(cache, 1);
    expect(contentAt(cache, offset)).toEqual({ kind: 'ext', label: 'B2C_CACHE' });
    expect(ext4IsClean(cache, offset)).toBe(true);
    expect(readImageFile(cache, offset, '/ocinit-cache.json')).toContain('ocinit-cache');
  });
});
