import { execFile } from 'node:child_process';
import { chownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVerityImage, removeVerityImage, storedVerityImage, verityImagePath } from '../../../src/verity/image.ts';
import { describeTree } from '../../support/tree.ts';

const run = promisify(execFile);
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER_DIGEST = `sha256:${'cd'.repeat(32)}`;
let work: string;

/** The same tree, its entries created in the given order, with times that differ between copies. */
function makeTree(dir: string, names: string[], time: number): void {
  mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
  for (const name of names) writeFileSync(join(dir, 'usr', 'bin', name), `#!/bin/sh\necho ${name}\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'owned'), 'data');
  chownSync(join(dir, 'owned'), 1234, 5678);
  linkSync(join(dir, 'usr', 'bin', 'a'), join(dir, 'hardlink'));
  symlinkSync('usr/bin', join(dir, 'bin'));
  mkdirSync(join(dir, 'empty'), { mode: 0o1777 });
  for (const path of ['usr/bin', 'usr', 'empty', '.']) utimesSync(join(dir, path), time, time);
}

// fsck.erofs --extract writes each hard link as a file of its own, so link groups are left out too.
const withoutTimes = (tree: Map<string, string>): string[] => [...tree].map(([path, line]) => `${path} ${line.replace(/ mtime \d+/, '').replace(/ link-group .*/, '')}`);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-verity-image-'));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the verity image of a tree', () => {
  it('is byte-identical whatever the order and times of the tree, and verifies with veritysetup', async () => {
    const first = join(work, 'first');
    const second = join(work, 'second');
    makeTree(first, ['a', 'b', 'c', 'd'], 1000);
    makeTree(second, ['d', 'c', 'b', 'a'], 2000);
    mkdirSync(join(work, 'out1'));
    mkdirSync(join(work, 'out2'));
    const one = await buildVerityImage(first, DIGEST, verityImagePath(join(work, 'out1'), DIGEST), { image: 'test' });
    const two = await buildVerityImage(second, DIGEST, verityImagePath(join(work, 'out2'), DIGEST), { image: 'test' });
    expect(two.rootHash).toBe(one.rootHash);
    expect(Buffer.compare(readFileSync(one.path), readFileSync(two.path))).toBe(0);
    expect(one.salt).toBe('ab'.repeat(32));
    expect(one.hashStartBlock).toBe(one.dataBlocks + 1);
    await run('veritysetup', ['verify', `--hash-offset=${one.dataBytes}`, one.path, one.path, one.rootHash]);

    const other = await buildVerityImage(first, OTHER_DIGEST, join(work, 'other.erofs'), { image: 'test' });
    expect(other.rootHash).not.toBe(one.rootHash);
  });

  it('holds every file of the tree with its mode, owner, link and content (file times are 0)', async () => {
    const tree = join(work, 'content');
    makeTree(tree, ['a', 'b'], 1000);
    const image = await buildVerityImage(tree, DIGEST, join(work, 'content.erofs'), { image: 'test' });
    const extracted = join(work, 'extracted');
    await run('fsck.erofs', [`--extract=${extracted}`, image.path]);
    expect(withoutTimes(describeTree(extracted))).toEqual(withoutTimes(describeTree(tree)));
    expect(describeTree(extracted).get('owned')).toMatch(/ mtime 0 /);
  });

  it('is found again by a later boot through its record, and a damaged record is not trusted', async () => {
    const tree = join(work, 'stored-tree');
    makeTree(tree, ['a'], 1000);
    const imagesDir = join(work, 'images');
    mkdirSync(imagesDir);
    const built = await buildVerityImage(tree, DIGEST, verityImagePath(imagesDir, DIGEST), { image: 'test' });
    expect(await storedVerityImage(imagesDir, DIGEST)).toEqual(built);
    expect(await storedVerityImage(imagesDir, OTHER_DIGEST)).toBeUndefined();
    // What the digest and the layout decide is checked, not taken from the record: another salt
    // or a geometry that does not add up makes the image be built again.
    const record = readFileSync(`${built.path}.json`, 'utf8');
    const fields = JSON.parse(record) as Record<string, unknown>;
    for (const damaged of [{ salt: 'cd'.repeat(32) }, { salt: '' }, { blockSize: 512 }, { hashStartBlock: built.hashStartBlock + 1 }, { dataBlocks: built.dataBlocks - 1 }]) {
      writeFileSync(`${built.path}.json`, JSON.stringify({ ...fields, ...damaged }));
      expect(await storedVerityImage(imagesDir, DIGEST)).toBeUndefined();
    }
    writeFileSync(`${built.path}.json`, record);
    expect(await storedVerityImage(imagesDir, DIGEST)).toEqual(built);
    writeFileSync(`${built.path}.json`, '{"version":1,"rootHash":"');
    expect(await storedVerityImage(imagesDir, DIGEST)).toBeUndefined();
    // Cache collection removes both with the image.
    await removeVerityImage(imagesDir, DIGEST);
    expect(describeTree(imagesDir).size).toBe(0);
  });

  it('leaves nothing behind when mkfs.erofs fails', async () => {
    const out = join(work, 'failed');
    mkdirSync(out);
    await expect(buildVerityImage(join(work, 'no-such-tree'), DIGEST, join(out, 'x.erofs'), { image: 'broken/image' })).rejects.toThrow(/building the EROFS image of broken\/image/);
    expect(describeTree(out).size).toBe(0);
  });
});
