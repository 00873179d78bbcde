// b2c.storage=additionalimagestores=FS[|FS...]: read-only containers-storage stores on b2c.filesystem
// mounts, searched before pulling. An image found there is rebuilt and verified layer by layer
// (src/store/containers-storage.ts) into the images directory, like a pulled one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec, Plan } from '../cmdline/plan.ts';
import { unpackedImageDir } from '../cache/gc.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { parseImageConfig, parseManifestDocument } from '../oci/manifest.ts';
import { hostPlatform, parseReference, type PulledImage } from '../oci/index.ts';
import { unpackTarStreams } from '../oci/unpack.ts';
import { ContainersStore, type StoredImage } from '../store/containers-storage.ts';
import { mountFilesystem, unmount } from '../system/overlay.ts';

export const STORES_MOUNT_ROOT = '/run/ocinit/image-stores';

export class ImageStores {
  readonly #stores: ContainersStore[];
  readonly #mounted: string[];

  private constructor(stores: ContainersStore[], mounted: string[]) {
    this.#stores = stores;
    this.#mounted = mounted;
  }

  /** Mounts every store's b2c.filesystem read-only and reads its indexes; any failure names the store. */
  static async open(plan: Pick<Plan, 'additionalImageStores' | 'filesystems'>, log: Logger, mountRoot = STORES_MOUNT_ROOT): Promise<ImageStores> {
    const stores: ContainersStore[] = [];
    const mounted: string[] = [];
    const opened = new ImageStores(stores, mounted);
    try {
      for (const name of plan.additionalImageStores) {
        const filesystem = plan.filesystems.find((candidate) => candidate.name === name);
        if (filesystem === undefined) throw new OcinitError(`image store ${name}: no b2c.filesystem of that name`, { parameter: 'b2c.storage' });
        const target = join(mountRoot, name);
        await mountFilesystem(filesystem.source, target, filesystem.type, [...filesystem.options.filter((option) => option !== 'rw'), 'ro'], log);
        mounted.push(target);
        stores.push(new ContainersStore(name, target));
        log.info(`Image store ${name}: ${filesystem.source} mounted read-only at ${target}`);
      }
    } catch (error) {
      await opened.close(log);
      throw error;
    }
    return opened;
  }

  /** The container's image from the first store that has it, unpacked under `imagesDir`; undefined when none has it. */
  async get(container: ContainerSpec, imagesDir: string, log: Logger): Promise<{ image: PulledImage; lowerDir: string } | undefined> {
    for (const store of this.#stores) {
      const found = store.find(container.image);
      if (found === undefined) continue;
      const image = pulledImage(found, container.image);
      const lowerDir = unpackedImageDir(imagesDir, image.manifestDigest);
      if (!existsSync(lowerDir)) {
        log.info(`${container.image}: found in image store ${store.name} (image ${found.id.slice(0, 12)}); rebuilding and verifying its ${found.layers.length} layer(s)`);
        await unpackTarStreams(found.layers.map((layer) => ({ diffId: layer.diffId, open: () => store.layerTar(layer.id) })), lowerDir, image.reference.canonical);
      }
      return { image, lowerDir };
    }
    return undefined;
  }

  async close(log: Logger): Promise<void> {
    for (const target of this.#mounted.splice(0).reverse()) await unmount(target, log).catch((error: unknown) => log.warn(String(error)));
  }
}

/** The store's image in the shape of a pulled one (nothing downloaded). */
function pulledImage(found: StoredImage, wanted: string): PulledImage {
  const context = { image: wanted, blob: found.manifestDigest };
  const manifest = parseManifestDocument(found.manifest, undefined, context);
  if (manifest.kind !== 'manifest') throw new OcinitError(`image store ${found.store}: image ${found.id.slice(0, 12)} has an index, not a manifest`, { parameter: 'b2c.storage' });
  const config = parseImageConfig(found.config, manifest.layers.length, { image: wanted, blob: manifest.config.digest });
  return {
    // Named by id, the image is best shown by the store's own name for it.
    reference: parseReference(/^(?:sha256:)?[0-9a-f]{12,64}$/.test(wanted) ? (found.names[0] ?? wanted) : wanted),
    manifestDigest: found.manifestDigest,
    platform: config.os !== undefined && config.architecture !== undefined ? { os: config.os, architecture: config.architecture } : hostPlatform(),
    config,
    configDigest: manifest.config.digest,
    manifest,
    layers: manifest.layers.map((descriptor, index) => ({ descriptor, diffId: found.layers[index]?.diffId ?? '' })),
    source: `image store ${found.store}`,
    blobsDownloaded: 0,
    bytesDownloaded: 0,
  };
}
