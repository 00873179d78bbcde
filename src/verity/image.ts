// One file per image: the EROFS image of its verified tree, zero-padded to whole blocks, then the
// dm-verity superblock and hash tree (`veritysetup verify --hash-offset=DATA_BYTES FILE FILE ROOT`
// checks it). A JSON record beside it keeps the root hash and geometry, so a cache disk's image is
// reused by later boots; the kernel re-verifies every block it reads from it.
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TEMP_SUFFIX, fsyncDirectory, writeFileAtomic } from '../cache/atomic.ts';
import type { Logger } from '../log/logger.ts';
import { parseDigest } from '../digest/digest.ts';
import { makeErofs } from '../system/erofs.ts';
import { hashTreeOfFile, VERITY_BLOCK_SIZE, type VerityParameters } from './hash-tree.ts';
import { formatUuid, imageUuid, veritySalt } from './identity.ts';

/** Bumped whenever the bytes of an image built from the same tree would change. */
const RECORD_VERSION = 1;

export interface VerityImage {
  manifestDigest: string;
  /** The EROFS image followed by its hash tree. */
  path: string;
  rootHash: string;
  /** EROFS bytes, padded to whole blocks: where the verity superblock starts. */
  dataBytes: number;
  dataBlocks: number;
  /** Where the tree starts, in blocks (after the data and the superblock's block). */
  hashStartBlock: number;
  blockSize: number;
  salt: string;
}

/** Where an image's verity file lives: beside its unpacked tree, named after its manifest digest. */
export function verityImagePath(imagesDir: string, manifestDigest: string): string {
  const { algorithm, hex } = parseDigest(manifestDigest);
  return join(imagesDir, `${algorithm}-${hex}.erofs`);
}

const recordPath = (path: string): string => `${path}.json`;

/** Removes an image's verity file and record (cache collection). */
export async function removeVerityImage(imagesDir: string, manifestDigest: string): Promise<void> {
  const path = verityImagePath(imagesDir, manifestDigest);
  await rm(recordPath(path), { force: true });
  await rm(path, { force: true });
}

export function verityParameters(manifestDigest: string): VerityParameters {
  return { algorithm: 'sha256', dataBlockSize: VERITY_BLOCK_SIZE, hashBlockSize: VERITY_BLOCK_SIZE, salt: veritySalt(manifestDigest), uuid: imageUuid(manifestDigest) };
}

function parseRecord(text: string, manifestDigest: string, path: string): VerityImage | undefined {
  try {
    const value = JSON.parse(text) as Partial<VerityImage> & { version?: unknown };
    if (value.version !== RECORD_VERSION || value.manifestDigest !== manifestDigest) return undefined;
    const { rootHash, dataBytes, dataBlocks, hashStartBlock, blockSize, salt } = value;
    if (typeof rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(rootHash) || typeof salt !== 'string' || !/^[0-9a-f]*$/.test(salt)) return undefined;
    if (![dataBytes, dataBlocks, hashStartBlock, blockSize].every((number) => Number.isSafeInteger(number) && (number ?? -1) >= 0)) return undefined;
    if (dataBytes === undefined || dataBlocks === undefined || hashStartBlock === undefined || blockSize === undefined) return undefined;
    // What the manifest digest and the layout decide is checked, not taken from the disk: only the
    // root hash (and with it the data size) is the record's to say, and the TPM measures it.
    if (salt !== veritySalt(manifestDigest).toString('hex') || blockSize !== VERITY_BLOCK_SIZE) return undefined;
    if (dataBytes !== dataBlocks * blockSize || hashStartBlock !== dataBlocks + 1) return undefined;
    return { manifestDigest, path, rootHash, dataBytes, dataBlocks, hashStartBlock, blockSize, salt };
  } catch {
    return undefined;
  }
}

/** A verity image an earlier boot left, when its record is whole and its file at least that long. */
export async function storedVerityImage(imagesDir: string, manifestDigest: string): Promise<VerityImage | undefined> {
  const path = verityImagePath(imagesDir, manifestDigest);
  const text = await readFile(recordPath(path), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const image = parseRecord(text, manifestDigest, path);
  const size = (await stat(path).catch(() => undefined))?.size;
  if (image === undefined || size === undefined || size <= image.dataBytes) return undefined;
  return image;
}

/**
 * Builds the verity image of `tree` (the verified, unpacked image `manifestDigest`) at `path`,
 * through a temporary file renamed into place once it is whole and on disk.
 */
export async function buildVerityImage(tree: string, manifestDigest: string, path: string, context: { image: string; log?: Logger }): Promise<VerityImage> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}${TEMP_SUFFIX}`);
  const parameters = verityParameters(manifestDigest);
  try {
    await rm(temp, { force: true });
    await makeErofs(tree, temp, formatUuid(parameters.uuid), context);
    const erofsBytes = (await stat(temp)).size;
    const dataBytes = Math.ceil(erofsBytes / VERITY_BLOCK_SIZE) * VERITY_BLOCK_SIZE;
    const handle = await open(temp, 'r+');
    let hashes: Awaited<ReturnType<typeof hashTreeOfFile>>;
    try {
      // mkfs.erofs writes whole blocks already; padding makes any size hash the same way.
      await handle.truncate(dataBytes);
      hashes = await hashTreeOfFile(temp, dataBytes, parameters);
      await handle.write(hashes.hashArea, 0, hashes.hashArea.length, dataBytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const image: VerityImage = {
      manifestDigest,
      path,
      rootHash: hashes.rootHash,
      dataBytes,
      dataBlocks: hashes.dataBlocks,
      hashStartBlock: dataBytes / VERITY_BLOCK_SIZE + 1,
      blockSize: VERITY_BLOCK_SIZE,
      salt: parameters.salt.toString('hex'),
    };
    await rename(temp, path);
    await fsyncDirectory(dirname(path));
    const { path: _path, ...record } = image;
    await writeFileAtomic(recordPath(path), `${JSON.stringify({ version: RECORD_VERSION, ...record })}\n`);
    return image;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
