// The pull phase: every image the pipeline names is resolved, downloaded, verified and unpacked
// before anything runs, so a registry outage or a corrupted blob stops the job before it started
// rather than half way through.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { parsePlatform, pullImage, unpackImage, type PulledImage } from '../oci/index.ts';
import type { ContentStore } from '../store/index.ts';

export interface ReadyImage {
  image: PulledImage;
  /** The flattened root filesystem, read-only below each container's overlay. */
  lowerDir: string;
  /** Nothing was downloaded: every blob was already in the store. */
  fromCache: boolean;
  pullSeconds: number;
  unpackSeconds: number;
}

export interface ImageSetOptions {
  store: ContentStore;
  /** Where unpacked images live, one directory per manifest digest. */
  imagesDir: string;
  proxy?: string;
  log: Logger;
  clock: () => number;
}

function imageKey(container: ContainerSpec): string {
  return `${container.image}|${container.platform ?? ''}`;
}

/** Images already pulled during this boot, keyed by reference and platform. */
export class ImageSet {
  readonly #options: ImageSetOptions;
  readonly #ready = new Map<string, Promise<ReadyImage>>();

  constructor(options: ImageSetOptions) {
    this.#options = options;
  }

  /** The image for `container`, honouring --pull; a second container naming the same image reuses it. */
  get(container: ContainerSpec): Promise<ReadyImage> {
    const key = imageKey(container);
    let ready = this.#ready.get(key);
    if (ready === undefined) {
      ready = this.#fetch(container);
      this.#ready.set(key, ready);
    }
    return ready;
  }

  async #fetch(container: ContainerSpec): Promise<ReadyImage> {
    const { log, clock } = this.#options;
    const where = { parameter: `${container.parameter} #${container.index}`, image: container.image };
    if (container.pull === 'never') {
      throw new OcinitError(`--pull=never, and ${container.image} is not in this machine's store`, {
        ...where,
        hint: 'images are only kept for the current boot until a cache device is supported: use --pull=missing or always',
      });
    }
    const started = clock();
    log.info(`Pulling ${container.image}`);
    const image = await pullImage(container.image, {
      store: this.#options.store,
      platform: container.platform === undefined ? undefined : parsePlatform(container.platform),
      tlsVerify: container.tlsVerify,
      credentials: container.creds,
      authfile: container.authfile,
      proxy: this.#options.proxy,
      log,
    });
    const pulled = clock();
    const lowerDir = join(this.#options.imagesDir, image.manifestDigest.replace(':', '-'));
    if (!existsSync(lowerDir)) await unpackImage(image, lowerDir, { store: this.#options.store });
    const unpacked = clock();
    log.info(
      `Pulled ${image.reference.canonical}@${image.manifestDigest}: ${image.blobsDownloaded} blob(s), ${(image.bytesDownloaded / 1e6).toFixed(1)} MB downloaded in ${(pulled - started).toFixed(2)} s, unpacked in ${(unpacked - pulled).toFixed(2)} s`,
    );
    return { image, lowerDir, fromCache: image.blobsDownloaded === 0, pullSeconds: pulled - started, unpackSeconds: unpacked - pulled };
  }
}
