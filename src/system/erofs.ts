// EROFS images (b2c.image_format=erofs): Debian's mkfs.erofs builds one from a verified tree.
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { runChecked } from './exec.ts';

/**
 * The options that make the image a pure function of the tree: -T0 gives every inode and the
 * superblock the time 0 (mkfs.erofs 1.5 cannot keep per-file times and still be reproducible: its
 * build time decides which inodes are compact), -U fixes the UUID; directory entries are sorted by
 * mkfs.erofs itself, whatever order readdir gives. Uncompressed: reads cost no CPU.
 */
export function mkfsErofsArgs(tree: string, image: string, uuid: string): string[] {
  return ['mkfs.erofs', '-T0', `-U${uuid}`, '--quiet', image, tree];
}

export class ErofsError extends OcinitError {}

/**
 * mkfs.erofs takes SOURCE_DATE_EPOCH over -T0 and then keeps the tree's own file times: a build under
 * `make` (which exports it) gave another root hash than the DUT's for the same image.
 */
function withoutSourceDateEpoch(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { SOURCE_DATE_EPOCH: _ignored, ...rest } = env;
  return rest;
}

export async function makeErofs(tree: string, image: string, uuid: string, what: { image: string; log?: Logger }): Promise<void> {
  try {
    await runChecked(mkfsErofsArgs(tree, image, uuid), { log: what.log, what: `building the EROFS image of ${what.image}`, env: withoutSourceDateEpoch(process.env) });
  } catch (error) {
    throw new ErofsError(error instanceof Error ? error.message : String(error), {
      image: what.image,
      hint: 'mkfs.erofs (erofs-utils) must be in the initramfs or on PATH, and the image must fit where the cache keeps it',
      cause: error,
    });
  }
}
