import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheLayout, CACHE_LAYOUT_VERSION, markCleanShutdown, parseMetadata, prepareLayout } from '../../../src/cache/layout.ts';
import { removeExpiredVolumes } from '../../../src/cache/volumes.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import { Logger } from '../../../src/log/logger.ts';
import { digestOf } from '../../../src/digest/digest.ts';
import { ContentStore } from '../../../src/store/index.ts';

const work = mkdtempSync(join(tmpdir(), 'ocinit-layout-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;

function freshRoot(): ReturnType<typeof cacheLayout> {
  const root = join(work, `cache-${counter++}`);
  mkdirSync(root);
  return cacheLayout(root);
}

function quietLog(): { log: Logger; text: () => string } {
  let text = '';
  return { log: new Logger({ sink: (chunk) => (text += chunk), color: false }), text: () => text };
}

describe('cache layout', () => {
  it('a new cache gets versioned metadata and its directories', async () => {
    const layout = freshRoot();
    const report = await prepareLayout(layout, quietLog().log, { verify: false });
    expect(report).toMatchObject({ created: true, cleanShutdown: true });
    expect(JSON.parse(readFileSync(layout.metadataFile, 'utf8'))).toMatchObject({ format: 'ocinit-cache', version: CACHE_LAYOUT_VERSION });
    for (const dir of [layout.storeDir, layout.volumesDir, layout.imagesDir, layout.scratchDir, layout.usageDir]) expect(existsSync(dir)).toBe(true);
  });

  it('a cache from a newer ocinit is refused and left untouched', async () => {
    const layout = freshRoot();
    writeFileSync(layout.metadataFile, JSON.stringify({ format: 'ocinit-cache', version: CACHE_LAYOUT_VERSION + 1 }));
    await expect(prepareLayout(layout, quietLog().log, { verify: false })).rejects.toThrow(/newer than this ocinit's.*left untouched/);
    expect(readdirSync(layout.root)).toEqual(['ocinit-cache.json']);
  });

  it('parses metadata defensively', () => {
    expect(parseMetadata('{').kind).toBe('unreadable');
    expect(parseMetadata('[]').kind).toBe('unreadable');
    expect(parseMetadata('{"format":"other","version":1}').kind).toBe('unreadable');
    expect(parseMetadata('{"format":"ocinit-cache","version":1.5}').kind).toBe('unreadable');
    expect(parseMetadata('{"format":"ocinit-cache","version":1}')).toMatchObject({ kind: 'current', metadata: { createdBy: 'unknown' } });
  });

  it('removes what interrupted writes left, and after an unclean shutdown the unpacked images too', async () => {
    const layout = freshRoot();
    const { log } = quietLog();
    await prepareLayout(layout, log, { verify: false });
    await markCleanShutdown(layout);
    mkdirSync(join(layout.storeDir, 'tmp'));
    writeFileSync(join(layout.storeDir, 'tmp', 'abc.12.0'), 'half a blob');
    writeFileSync(join(layout.usageDir, `.x.1.ocinit-tmp`), 'half a record');
    mkdirSync(join(layout.imagesDir, '.sha256-aa.ocinit-XyZ12'), { recursive: true });
    mkdirSync(join(layout.imagesDir, 'sha256-bb', 'etc'), { recursive: true });
    mkdirSync(join(layout.scratchDir, 'bundle-1'), { recursive: true });
    const clean = await prepareLayout(layout, log, { verify: false });
    expect(clean).toMatchObject({ created: false, cleanShutdown: true, leftoversRemoved: 4 });
    expect(readdirSync(layout.imagesDir)).toEqual(['sha256-bb']);
    expect(existsSync(layout.cleanMarker)).toBe(false);

    // No marker: the previous session was cut; unpacked trees may be torn and are dropped.
    const { log: log2, text } = quietLog();
    const unclean = await prepareLayout(layout, log2, { verify: false });
    expect(unclean.cleanShutdown).toBe(false);
    expect(readdirSync(layout.imagesDir)).toEqual([]);
    expect(text()).toContain('did not shut down cleanly');
  });

  it('re-verification discards blobs whose bytes no longer match their digest, and keeps the others', async () => {
    const layout = freshRoot();
    await prepareLayout(layout, quietLog().log, { verify: false });
    const store = new ContentStore(layout.storeDir);
    const good = Buffer.from('good layer bytes');
    const bad = Buffer.from('bytes that will rot');
    await store.put(digestOf(good), good);
    await store.put(digestOf(bad), bad);
    writeFileSync(store.blobPath(digestOf(bad)), 'bytes that will roT');
    const { log, text } = quietLog();
    const report = await prepareLayout(layout, log, { verify: true });
    expect(report.verified).toEqual({ checked: 2, discarded: [digestOf(bad)] });
    expect(await store.listBlobs()).toEqual([digestOf(good)]);
    expect(text()).toContain(`blob ${digestOf(bad)} does not match its digest: discarded`);
  });
});

describe('removeExpiredVolumes', () => {
  it('removes only the pipeline_end volumes a previous session left', async () => {
    const layout = freshRoot();
    await prepareLayout(layout, quietLog().log, { verify: false });
    for (const name of ['results', 'tmpdata']) mkdirSync(join(layout.volumesDir, name, 'sub'), { recursive: true });
    const { plan } = parseCommandLine('b2c.volume=results b2c.volume=tmpdata,expiration=pipeline_end b2c.volume=absent,expiration=pipeline_end', { env: {} });
    expect(await removeExpiredVolumes(plan.volumes, layout.volumesDir, quietLog().log)).toEqual(['tmpdata']);
    expect(readdirSync(layout.volumesDir)).toEqual(['results']);
  });
});
