import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../../src/digest/digest.ts';
import { ContentStore } from '../../../src/store/index.ts';

let dir: string;
let store: ContentStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ocinit-store-'));
  store = new ContentStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('ContentStore', () => {
  it('commits a blob only when digest and size match', async () => {
    const bytes = Buffer.from('hello blob');
    const digest = digestOf(bytes);
    const wrong = await store.writer(digest, bytes.length);
    await wrong.write(Buffer.from('hello BLOB'));
    await expect(wrong.commit()).rejects.toThrow(`expected ${digest}, got ${digestOf(Buffer.from('hello BLOB'))}`);
    expect(await store.has(digest, bytes.length)).toBe(false);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);

    const short = await store.writer(digest, bytes.length);
    await short.write(bytes.subarray(0, 4));
    await expect(short.commit()).rejects.toThrow('expected 10 bytes, got 4 bytes');

    const long = await store.writer(digest, bytes.length);
    await expect(long.write(Buffer.concat([bytes, bytes]))).rejects.toThrow('more than that');
    await long.abort();

    const good = await store.writer(digest, bytes.length);
    await good.write(bytes.subarray(0, 3));
    await good.restart();
    await good.write(bytes);
    await good.commit();
    expect(await store.read(digest, bytes.length)).toEqual(bytes);
  });

  it('refuses digests that could name another path', () => {
    expect(() => store.blobPath('sha256:../../etc/passwd')).toThrow('invalid digest');
    expect(() => store.blobPath(`sha256:${'a'.repeat(63)}`)).toThrow('invalid digest');
  });

  it('discards a stored blob that no longer verifies', async () => {
    const bytes = Buffer.from('config');
    const digest = digestOf(bytes);
    await store.put(digest, bytes);
    writeFileSync(store.blobPath(digest), 'CONFIG');
    expect(await store.read(digest, bytes.length)).toBeUndefined();
    expect(await store.has(digest, bytes.length)).toBe(false);
  });

  it('garbage-collects what no kept manifest reaches', async () => {
    const layer = Buffer.from('layer');
    const config = Buffer.from('{}');
    const orphan = Buffer.from('orphan');
    const manifest = json({ schemaVersion: 2, config: { digest: digestOf(config) }, layers: [{ digest: digestOf(layer) }] });
    const index = json({ schemaVersion: 2, manifests: [{ digest: digestOf(manifest) }] });
    const otherManifest = json({ schemaVersion: 2, config: { digest: digestOf(orphan) }, layers: [] });
    for (const bytes of [layer, config, orphan, manifest, index, otherManifest]) await store.put(digestOf(bytes), bytes);
    await store.setRef('kept', digestOf(index));
    await store.setRef('dropped', digestOf(otherManifest));
    const result = await store.gc([digestOf(index)]);
    expect(result.removed.sort()).toEqual([digestOf(orphan), digestOf(otherManifest)].sort());
    expect(result.freedBytes).toBe(orphan.length + otherManifest.length);
    expect((await store.listBlobs()).sort()).toEqual([layer, config, manifest, index].map((bytes) => digestOf(bytes)).sort());
    expect(await store.getRef('kept')).toBe(digestOf(index));
    expect(await store.getRef('dropped')).toBeUndefined();
  });
});
