// A stored layer whose digest matches but whose compressed stream is broken is reported as not
// decompressing (decided by zlib's and zstd's error codes), for gzip and zstd alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../../src/digest/digest.ts';
import { applyLayer, prepareStaging } from '../../../src/oci/unpack.ts';
import { ContentStore } from '../../../src/store/index.ts';

const work = mkdtempSync(join(tmpdir(), 'ocinit-corrupt-layer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a layer that does not decompress', () => {
  it.each([
    ['zstd', 'application/vnd.oci.image.layer.v1.tar+zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8, 9])],
    ['gzip', 'application/vnd.oci.image.layer.v1.tar+gzip', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])],
  ])('is reported as corrupt (%s)', async (name, mediaType, bytes) => {
    const store = new ContentStore(join(work, `store-${name}`));
    const digest = digestOf(bytes);
    await store.put(digest, bytes);
    const staging = prepareStaging(join(work, `rootfs-${name}`), 'test/corrupt', undefined);
    try {
      const layer = { descriptor: { mediaType, digest, size: bytes.length }, diffId: `sha256:${'0'.repeat(64)}` };
      await expect(applyLayer(store, layer, staging.state, 'test/corrupt', { justVerified: true })).rejects.toThrow(`layer ${digest} of test/corrupt does not decompress`);
    } finally {
      staging.discard();
    }
  });
});
