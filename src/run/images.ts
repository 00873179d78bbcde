// The pull phase: every image the pipeline names is resolved, downloaded, verified and unpacked
// before anything runs, so a registry outage or a corrupted blob stops the job before it started
// rather than half way through.
import { existsSync } from 'node:fs';
import type { ContainerSpec } from '../cmdline/plan.ts';
import { unpackedImageDir } from '../cache/gc.ts';
import type { ImageCache } from '../cache/images.ts';
import type { Logger } from '../log/logger.ts';
import { parsePlatform, type MirrorConfig, type PulledImage } from '../oci/index.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';
import type { ImageStores } from './image-stores.ts';
import { openKernelLog } from '../system/kmsg.ts';
import type { VerityImage } from '../verity/image.ts';
import { corruptionNotices, mountVerityRoot, type VerityRoot } from '../verity/mount.ts';

export interface ReadyImage {
  image: PulledImage;
  /** The flattened root filesystem, read-only below each container's overlay. */
  lowerDir: string;
  /** b2c.image_format=erofs: lowerDir is this image's EROFS mount, checked by dm-verity under this root hash. */
  rootHash: string | undefined;
  /** Nothing was downloaded: every blob was already in the store. */
  fromCache: boolean;
  /** The registry could not be reached and the stored copy ran (b2c.cache_offline). */
  offline: boolean;
}

export interface ImageSetOptions {
  /** The pull path: --pull policies, the outage fallback, cache bookkeeping (src/cache). */
  cache: ImageCache;
  /** Where unpacked images live, one directory per manifest digest. */
  imagesDir: string;
  /** b2c.proxy. */
  proxy?: ProxyConfig | undefined;
  /** b2c.registry_mirror. */
  mirrors?: MirrorConfig;
  log: Logger;
  clock: () => number;
  /** b2c.image_format; with erofs, where the verity-checked images are mounted. */
  format?: { kind: 'tree' } | { kind: 'erofs'; mountDir: string };
}

function imageKey(container: ContainerSpec): string {
  return `${container.image}|${container.platform ?? ''}`;
}

/** Images already pulled during this boot, keyed by reference and platform. */
export class ImageSet {
  readonly #options: ImageSetOptions;
  readonly #ready = new Map<string, Promise<ReadyImage>>();
  #stores: ImageStores | undefined;
  /** By manifest digest: two references to one image (a tag and its digest) share one device. */
  readonly #verityRoots = new Map<string, Promise<{ image: string; root: VerityRoot }>>();

  constructor(options: ImageSetOptions) {
    this.#options = options;
  }

  /** b2c.storage: searched before pulling, once they are mounted. */
  useStores(stores: ImageStores): void {
    this.#stores = stores;
  }

  /** The image for `container`, honouring --pull; a second container naming the same image reuses it. */
  get(container: ContainerSpec): Promise<ReadyImage> {
    const key = imageKey(container);
    let ready = this.#ready.get(key);
    if (ready === undefined) {
      ready = this.#fetch(container).then((tree) => this.#format(container, tree));
      this.#ready.set(key, ready);
    }
    return ready;
  }

  /** What the operator must not miss (a verity image that failed its hashes), for the summary. */
  readonly notices: string[] = [];

  /**
   * Reports the images whose blocks failed dm-verity while they were read, then unmounts the
   * verity roots (before the cache that holds their images is closed).
   */
  async close(): Promise<void> {
    const settled = await Promise.allSettled(this.#verityRoots.values());
    this.#verityRoots.clear();
    const roots = settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    if (roots.length === 0) return;
    const kernelLog = openKernelLog();
    const messages = kernelLog?.readNew() ?? [];
    kernelLog?.close();
    const described = roots.map(({ image, root }) => ({ image, dataDevice: root.dataDevice, rootHash: root.image.rootHash }));
    for (const notice of corruptionNotices(messages, described)) {
      this.#options.log.error(notice);
      this.notices.push(notice);
    }
    for (const { root } of roots) await root.close();
  }

  async #format(container: ContainerSpec, tree: ReadyImage): Promise<ReadyImage> {
    const format = this.#options.format;
    if (format?.kind !== 'erofs') return tree;
    const { log, clock } = this.#options;
    const digest = tree.image.manifestDigest;
    let mounted = this.#verityRoots.get(digest);
    if (mounted === undefined) {
      const measure = (image: VerityImage, source: 'built' | 'cache'): Promise<void> =>
        this.#options.cache.measureVerityRoot({ reference: tree.image.reference.canonical, manifestDigest: digest, rootHash: image.rootHash, dataBlocks: image.dataBlocks, source });
      mounted = mountVerityRoot(tree.lowerDir, digest, { imagesDir: this.#options.imagesDir, mountDir: format.mountDir }, { image: container.image, log, clock, measure }).then((root) => ({ image: container.image, root }));
      this.#verityRoots.set(digest, mounted);
    }
    const { root } = await mounted;
    return { ...tree, lowerDir: root.mountPoint, rootHash: root.image.rootHash };
  }

  async #fetch(container: ContainerSpec): Promise<ReadyImage> {
    const { log, clock } = this.#options;
    const started = clock();
    const registry = {
      platform: container.platform === undefined ? undefined : parsePlatform(container.platform),
      tlsVerify: container.tlsVerify,
      credentials: container.creds,
      authfile: container.authfile,
      proxy: this.#options.proxy,
      mirrors: this.#options.mirrors,
    };
    const stored = await this.#stores?.get(container, this.#options.imagesDir, log);
    if (stored !== undefined) {
      log.info(`${container.image}: ${stored.image.manifestDigest} from ${stored.image.source}, verified, not pulled (${((clock() - started) / 1000).toFixed(2)} s)`);
      return { image: await this.#options.cache.admit(stored.image, registry), lowerDir: stored.lowerDir, rootHash: undefined, fromCache: true, offline: false };
    }
    log.info(`Pulling ${container.image}`);
    // A fresh pull unpacks while it downloads; an image from the cache is unpacked after, unless an
    // earlier boot left its tree.
    let unpackedWhilePulling = false;
    const { image, offline } = await this.#options.cache.get(container.image, container.pull, {
      ...registry,
      unpackTarget: (resolved) => {
        const dir = unpackedImageDir(this.#options.imagesDir, resolved.manifestDigest);
        if (existsSync(dir)) return undefined;
        unpackedWhilePulling = true;
        return dir;
      },
    });
    const pulled = clock();
    const lowerDir = unpackedImageDir(this.#options.imagesDir, image.manifestDigest);
    const present = existsSync(lowerDir);
    const overlapped = unpackedWhilePulling && present;
    if (!present) await this.#options.cache.unpack(image, lowerDir);
    const unpacked = clock();
    const summary = `Pulled ${image.reference.canonical}@${image.manifestDigest}: ${image.blobsDownloaded} blob(s), ${(image.bytesDownloaded / 1e6).toFixed(1)} MB downloaded`;
    log.info(overlapped ? `${summary} and unpacked in ${(pulled - started).toFixed(2)} s` : `${summary} in ${(pulled - started).toFixed(2)} s, unpacked in ${(unpacked - pulled).toFixed(2)} s`);
    return { image, lowerDir, rootHash: undefined, fromCache: image.blobsDownloaded === 0, offline };
  }
}
