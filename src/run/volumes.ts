// Named volumes, binds and tmpfs for containers. Until a cache device exists, volumes live in RAM
// for the boot; `expiration=pipeline_end` ones are removed when the pipeline ends.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec, Plan, VolumeSpec } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { mountFilesystem, unmount } from '../system/overlay.ts';
import type { OciMount } from './runtime-spec.ts';
import { protectVolume } from './volume-encryption.ts';

/** What an undeclared named volume (`-v NAME:/path` alone) asks for: no encryption. */
const UNDECLARED = { fscryptKey: undefined, fscryptResetKey: false } as const;

// Mount flags crun applies to a bind mount (it remounts the bind with them). z/Z (SELinux
// relabelling) and nocopy need nothing here: no SELinux policy is loaded and ocinit never copies.
const BIND_FLAGS = /^(r?(shared|slave|private|unbindable)|exec|noexec|suid|nosuid|dev|nodev)$/;

/** crun options for a bind mount from -v options or --mount: `bind` alone makes it non-recursive. */
export function bindOptions(readOnly: boolean, extra: readonly string[] = []): string[] {
  return [extra.includes('bind') ? 'bind' : 'rbind', readOnly ? 'ro' : 'rw', ...extra.filter((option) => BIND_FLAGS.test(option))];
}

/** The -v style options of a --mount: its bind-propagation and bind-nonrecursive. */
function mountExtra(options: Readonly<Record<string, string>>): string[] {
  const propagation = options['bind-propagation'];
  return [...(propagation === undefined ? [] : [propagation]), ...('bind-nonrecursive' in options ? ['bind'] : [])];
}

export class Volumes {
  readonly #dir: string;
  readonly #declared: Map<string, VolumeSpec>;
  readonly #filesystems: Plan['filesystems'];
  readonly #log: Logger;
  readonly #mountedFilesystems: string[] = [];
  /** On the cache device (fscrypt possible, volumes from earlier boots), or in RAM. */
  readonly #persistent: boolean;
  /** Volumes ready in this boot (created, mounted, unlocked). */
  readonly #ready = new Set<string>();
  #anonymous = 0;

  constructor(dir: string, plan: Pick<Plan, 'volumes' | 'filesystems'>, log: Logger, options: { persistent?: boolean } = {}) {
    this.#dir = dir;
    this.#declared = new Map(plan.volumes.map((volume) => [volume.name, volume]));
    this.#filesystems = plan.filesystems;
    this.#log = log;
    this.#persistent = options.persistent ?? false;
  }

  /** fscrypt: unlock or encrypt a declared volume, refuse an encrypted one without its key. */
  async #protect(name: string, path: string, spec: VolumeSpec | undefined, existed: boolean): Promise<void> {
    if (spec?.filesystem !== undefined) return;
    if (spec?.fscryptKey !== undefined && !this.#persistent) {
      throw new OcinitError(`volume ${name}: fscrypt_key= needs the cache device, and this boot has none: a volume in RAM cannot be encrypted`, {
        parameter: 'b2c.volume',
        hint: 'set b2c.cache_device (the boot log says why no cache was mounted), or drop fscrypt_key=',
      });
    }
    if (!this.#persistent || (spec?.fscryptKey === undefined && !existed)) return;
    await protectVolume(spec ?? { ...UNDECLARED, name }, path, this.#dir, this.#log);
  }

  /** The host directory of a named volume, created (or its b2c.filesystem mounted) on first use. */
  async named(name: string): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
      throw new OcinitError(`'${name}' is not a valid volume name`, { hint: 'volume names are letters, digits, _ . -' });
    }
    const path = join(this.#dir, name);
    if (this.#ready.has(name)) return path;
    const spec = this.#declared.get(name);
    const existed = existsSync(path);
    mkdirSync(path, { recursive: true });
    await this.#protect(name, path, spec, existed);
    if (spec?.filesystem !== undefined) {
      const filesystem = this.#filesystems.find((item) => item.name === spec.filesystem);
      if (filesystem === undefined) {
        throw new OcinitError(`b2c.volume=${name} names filesystem '${spec.filesystem}', which no b2c.filesystem declares`, { parameter: 'b2c.volume' });
      }
      await mountFilesystem(filesystem.source, path, filesystem.type, filesystem.options, this.#log);
      this.#mountedFilesystems.push(path);
    }
    this.#ready.add(name);
    if (!existed) this.#log.info(`Volume ${name} created${spec?.filesystem !== undefined ? ` on filesystem ${spec.filesystem}` : this.#persistent ? ' on the cache' : ' (in RAM)'}`);
    return path;
  }

  /** Host mounts for the container's -v, --mount and named volumes. */
  async mountsFor(container: ContainerSpec): Promise<OciMount[]> {
    const mounts: OciMount[] = [];
    const where = { parameter: `${container.parameter} #${container.index}`, image: container.image };
    for (const volume of container.volumes) {
      let source: string;
      if (volume.kind === 'bind') {
        source = volume.source;
        if (!existsSync(source)) throw new OcinitError(`the bind source ${source} does not exist in the initramfs`, { ...where, hint: 'use a named volume (-v NAME:/path) to share data between containers' });
      } else if (volume.kind === 'named') source = await this.named(volume.source);
      else source = await this.named(`anonymous-${++this.#anonymous}`);
      mounts.push({ destination: volume.destination, type: 'bind', source, options: bindOptions(volume.readOnly, volume.options) });
    }
    for (const mount of container.mounts) {
      if (mount.type === 'tmpfs') {
        const options = ['nosuid', 'nodev', ...(mount.size === undefined ? [] : [`size=${mount.size}`]), ...(mount.mode === undefined ? [] : [`mode=${mount.mode.toString(8)}`])];
        mounts.push({ destination: mount.destination, type: 'tmpfs', source: 'tmpfs', options });
      } else {
        const source = mount.type === 'volume' ? await this.named(mount.source) : mount.source;
        if (!existsSync(source)) throw new OcinitError(`the bind source ${source} does not exist in the initramfs`, where);
        mounts.push({ destination: mount.destination, type: 'bind', source, options: bindOptions(mount.readOnly, mountExtra(mount.options)) });
      }
    }
    return mounts;
  }

  /** Removes `expiration=pipeline_end` volumes and unmounts volume filesystems. */
  async endPipeline(): Promise<void> {
    for (const path of this.#mountedFilesystems.splice(0)) await unmount(path, this.#log).catch((error: unknown) => this.#log.warn(String(error)));
    for (const volume of this.#declared.values()) {
      if (volume.expiration !== 'pipeline_end') continue;
      rmSync(join(this.#dir, volume.name), { recursive: true, force: true });
      this.#log.info(`Volume ${volume.name} removed (expiration=pipeline_end)`);
    }
  }
}
