// b2c.image_format=erofs: an image's verified tree becomes an EROFS image under a dm-verity tree
// (built once, kept on a cache disk), mounted read-only through the kernel's dm-verity.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { parseDigest } from '../digest/digest.ts';
import { deviceMajorMinor } from '../system/block.ts';
import { openVerity, removeDevice } from '../system/dm.ts';
import { mountFilesystem, unmount } from '../system/overlay.ts';
import { buildVerityImage, storedVerityImage, verityImagePath, type VerityImage } from './image.ts';

export class VerityMountError extends OcinitError {}

/** `major:minor` of a device node, as the kernel writes it in its messages. */
function deviceNumbers(node: string): string {
  const { major, minor } = deviceMajorMinor(statSync(node).rdev);
  return `${major}:${minor}`;
}

const CORRUPTION = /device-mapper: verity: (\d+:\d+): (data|metadata) block (\d+) is corrupted/;

/**
 * The operator's lines for the kernel's verity errors: which image had blocks that failed their
 * hash (the reader got EIO). One line per image, however many errors the kernel logged.
 */
export function corruptionNotices(kernelMessages: readonly string[], roots: readonly { image: string; dataDevice: string; rootHash: string }[]): string[] {
  const blocks = new Map<string, Set<string>>();
  for (const message of kernelMessages) {
    const [, device, kind, block] = CORRUPTION.exec(message) ?? [];
    if (device === undefined || kind === undefined || block === undefined) continue;
    const seen = blocks.get(device) ?? new Set<string>();
    seen.add(`${kind} block ${block}`);
    blocks.set(device, seen);
  }
  return roots.flatMap((root) => {
    const seen = blocks.get(root.dataDevice);
    if (seen === undefined) return [];
    return [`VERITY: ${root.image}: its EROFS image failed dm-verity (${[...seen].join(', ')}; root hash ${root.rootHash}): readers got I/O errors, never those bytes. The image changed after it was built (a failing disk or RAM, or tampering); delete it from the cache (or b2c.cache_device=reset) to build it again from the verified blobs`];
  });
}

export interface VerityRoot {
  image: VerityImage;
  /** The EROFS file system, read-only. */
  mountPoint: string;
  /** The loop device under the verity device, as the kernel's verity errors name it: `7:N`. */
  dataDevice: string;
  /** Unmounts it and removes its device (the loop device goes with it). */
  close(): Promise<void>;
}

/** The device-mapper name of an image's verity device. */
export function verityDeviceName(manifestDigest: string): string {
  return `ocinit-${parseDigest(manifestDigest).hex.slice(0, 32)}`;
}

export interface VerityMountContext {
  image: string;
  log: Logger;
  clock: () => number;
  /** Measures the root hash (b2c.tpm) after the image is built or found, before the kernel is given it. */
  measure?: (image: VerityImage, source: 'built' | 'cache') => Promise<void>;
}

async function builtOrStored(tree: string, manifestDigest: string, imagesDir: string, context: VerityMountContext): Promise<{ image: VerityImage; source: 'built' | 'cache' }> {
  const stored = await storedVerityImage(imagesDir, manifestDigest);
  if (stored !== undefined) {
    context.log.info(`${context.image}: EROFS image from the cache, verity root hash ${stored.rootHash}`);
    return { image: stored, source: 'cache' };
  }
  const started = context.clock();
  const built = await buildVerityImage(tree, manifestDigest, verityImagePath(imagesDir, manifestDigest), context);
  context.log.info(`${context.image}: EROFS image built and hashed in ${(context.clock() - started).toFixed(2)} s (${(built.dataBytes / 1e6).toFixed(1)} MB), verity root hash ${built.rootHash}`);
  return { image: built, source: 'built' };
}

/**
 * The verity-mounted EROFS image of `tree`, the verified unpacked image `manifestDigest`, at
 * `mountDir`/<digest>. A mount that fails (a block of the superblock or root directory changed, a
 * wrong root hash) is a VerityMountError naming the image and its root hash. `context.measure`
 * failing (b2c.tpm=required) stops it before anything is mounted.
 */
export async function mountVerityRoot(tree: string, manifestDigest: string, dirs: { imagesDir: string; mountDir: string }, context: VerityMountContext): Promise<VerityRoot> {
  const { image, source } = await builtOrStored(tree, manifestDigest, dirs.imagesDir, context);
  // Measured before the device exists: the root hash in the event log is the one the table gets.
  await context.measure?.(image, source);
  const name = verityDeviceName(manifestDigest);
  const { device, loop } = await openVerity(name, image.path, { ...image }, context);
  const mountPoint = join(dirs.mountDir, manifestDigest.replace(':', '-'));
  try {
    await mountFilesystem(device, mountPoint, 'erofs', ['ro'], context.log);
  } catch (error) {
    await removeDevice(name, context.log);
    throw new VerityMountError(`VERITY: the EROFS image of ${context.image} (${image.path}) does not mount under its root hash ${image.rootHash}: ${error instanceof Error ? error.message : String(error)}`, {
      image: context.image,
      hint: 'the image or its record changed since it was built (a failing disk, or tampering): nothing from it ran. Delete it (or b2c.cache_device=reset) and it is built again from the verified blobs',
      cause: error,
    });
  }
  context.log.info(`${context.image}: mounted through dm-verity (${device}, root hash ${image.rootHash}) on ${mountPoint}`);
  return {
    image,
    mountPoint,
    dataDevice: deviceNumbers(loop),
    close: async () => {
      await unmount(mountPoint, context.log).catch((error: unknown) => context.log.warn(String(error)));
      await removeDevice(name, context.log);
    },
  };
}
