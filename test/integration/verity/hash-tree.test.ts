import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashTreeOfFile, VERITY_BLOCK_SIZE, type VerityParameters } from '../../../src/verity/hash-tree.ts';

const run = promisify(execFile);
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-verity-'));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const uuid = '01234567-89ab-cdef-0123-456789abcdef';
const parameters = (salt: Buffer): VerityParameters => ({
  algorithm: 'sha256',
  dataBlockSize: VERITY_BLOCK_SIZE,
  hashBlockSize: VERITY_BLOCK_SIZE,
  salt,
  uuid: Buffer.from(uuid.replaceAll('-', ''), 'hex'),
});

describe('the dm-verity hash tree beside veritysetup format', () => {
  // 1 block: no levels; 128 and 129: one level full, then a second; 16385: a third level.
  it.each([1, 2, 128, 129, 16_385])('is byte-identical for %i data blocks, and veritysetup verify accepts it', async (blocks) => {
    const data = join(work, `data-${blocks}`);
    writeFileSync(data, randomBytes(blocks * VERITY_BLOCK_SIZE));
    const salt = randomBytes(32);
    const theirs = join(work, `theirs-${blocks}`);
    const { stdout } = await run('veritysetup', ['format', '--salt', salt.toString('hex'), '--uuid', uuid, data, theirs]);
    const tree = await hashTreeOfFile(data, blocks * VERITY_BLOCK_SIZE, parameters(salt));
    expect(stdout).toContain(`Root hash:      \t${tree.rootHash}`);
    expect(tree.dataBlocks).toBe(blocks);
    expect(Buffer.compare(tree.hashArea, readFileSync(theirs))).toBe(0);
    const ours = join(work, `ours-${blocks}`);
    writeFileSync(ours, tree.hashArea);
    await run('veritysetup', ['verify', data, ours, tree.rootHash]);
  });

  it('gives a root hash veritysetup verify rejects once a data byte changes', async () => {
    const data = join(work, 'flipped');
    const bytes = randomBytes(40 * VERITY_BLOCK_SIZE);
    writeFileSync(data, bytes);
    const tree = await hashTreeOfFile(data, bytes.length, parameters(randomBytes(32)));
    const hashes = join(work, 'flipped.hashes');
    writeFileSync(hashes, tree.hashArea);
    bytes[17 * VERITY_BLOCK_SIZE + 5] = (bytes[17 * VERITY_BLOCK_SIZE + 5] ?? 0) ^ 1;
    writeFileSync(data, bytes);
    await expect(run('veritysetup', ['verify', data, hashes, tree.rootHash])).rejects.toThrow(/corrupted|verification failed/i);
  });

  it('refuses a length that is not a whole number of blocks', async () => {
    const data = join(work, 'short');
    writeFileSync(data, randomBytes(VERITY_BLOCK_SIZE + 1));
    await expect(hashTreeOfFile(data, VERITY_BLOCK_SIZE + 1, parameters(Buffer.alloc(32)))).rejects.toThrow(/whole number/);
  });
});
