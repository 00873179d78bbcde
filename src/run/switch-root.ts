// b2c.switch_root: an OS image unpacked into RAM, ready for PID 1 (initrd/init.sh) to move /dev,
// /proc and /sys into it and exec its init with busybox switch_root.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageCache } from '../cache/images.ts';
import type { ContainerSpec, EnvEntry } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { bindMount, mountOverlay, mountTmpfs } from '../system/overlay.ts';
import { readEnvFiles } from './container.ts';
import { mergeEnvironment, parseEnvList } from './env.ts';
import { ImageSet, type ReadyImage } from './images.ts';
import { DEFAULT_PATH } from './podman-defaults.ts';
import { resolveInRoot } from './root-path.ts';
import type { MirrorConfig } from '../oci/mirrors.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';

/** A tmpfs of its own: busybox switch_root moves the new root onto / and deletes the initramfs. */
export const SWITCH_ROOT_MOUNT = '/run/ocinit/switch-root';
/**
 * What the kernel gives the init it starts (init/main.c envp_init): the new init is booted, not
 * contained, so it gets none of podman's container environment (`container=` would make systemd
 * believe it runs in a container and skip the machine's hardware).
 */
const KERNEL_INIT_ENVIRONMENT = [
  { name: 'HOME', value: '/' },
  { name: 'TERM', value: 'linux' },
];

export interface SwitchRootTarget {
  newRoot: string;
  init: string;
  args: string[];
  env: string[];
  ready: ReadyImage;
}

/** The init's environment, lowest first: the kernel's, a default PATH, the image's Env, --env-file files, -e. */
export function initEnvironment(imageEnv: readonly string[] | undefined, envFiles: EnvEntry[], flags: EnvEntry[]): string[] {
  return mergeEnvironment(KERNEL_INIT_ENVIRONMENT, [{ name: 'PATH', value: DEFAULT_PATH }], parseEnvList(imageEnv), envFiles, flags);
}

/** INIT ARGS from the parameter, else the image's Entrypoint+Cmd, else /sbin/init. */
export function initCommand(spec: ContainerSpec, config: ReadyImage['image']['config']): string[] {
  if (spec.command.length > 0) return [...(spec.entrypoint ?? []), ...spec.command];
  if (spec.entrypoint !== undefined && spec.entrypoint.length > 0) return spec.entrypoint;
  const fromImage = [...(config.config?.Entrypoint ?? []), ...(config.config?.Cmd ?? [])];
  return fromImage.length > 0 ? fromImage : ['/sbin/init'];
}

/**
 * The init as an absolute path inside the new root, checked now: once PID 1 has exec'd
 * switch_root there is no way back, and an init that cannot run would panic the kernel.
 */
export function findInit(root: string, command: string, where: { parameter: string; image: string }): string {
  const candidates = command.includes('/') ? [command.startsWith('/') ? command : `/${command}`] : DEFAULT_PATH.split(':').map((dir) => `${dir}/${command}`);
  for (const candidate of candidates) {
    try {
      const file = resolveInRoot(root, candidate);
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return candidate;
      }
    } catch {
      // Not this one: missing, not a file, not executable, or a symlink loop.
    }
  }
  throw new OcinitError(`the init '${command}' is not an executable file in the image`, {
    ...where,
    hint: 'name an init that exists in the image after the image in b2c.switch_root (e.g. /lib/systemd/systemd), or give the image an Entrypoint',
  });
}

export async function prepareSwitchRoot(
  spec: ContainerSpec,
  options: {
    cache: ImageCache;
    proxy: ProxyConfig | undefined;
    mirrors?: MirrorConfig;
    log: Logger;
    hostEnv: Readonly<Record<string, string | undefined>>;
    mountPoint?: string;
    imageFormat?: 'tree' | 'erofs';
  },
): Promise<SwitchRootTarget> {
  const { log } = options;
  const mountPoint = options.mountPoint ?? SWITCH_ROOT_MOUNT;
  // The image takes RAM twice for a moment (its blobs in the store, the tree here); the store goes with the initramfs.
  await mountTmpfs(mountPoint, 'mode=0755,size=90%', log);
  const erofs = options.imageFormat === 'erofs';
  const format = erofs ? { kind: 'erofs' as const, mountDir: join(mountPoint, 'verity') } : { kind: 'tree' as const };
  const images = new ImageSet({ cache: options.cache, imagesDir: mountPoint, proxy: options.proxy, mirrors: options.mirrors, log, clock: () => log.now(), format });
  const ready = await images.get(spec);
  // switch_root moves the new root onto /: it must be a mount point of its own. The EROFS root is
  // read-only: a RAM overlay above it lets the new init write (and make /dev, /proc...) as usual.
  const newRoot = erofs ? join(mountPoint, 'root') : ready.lowerDir;
  if (erofs) await mountOverlay(ready.lowerDir, join(mountPoint, 'upper'), join(mountPoint, 'work'), newRoot, log);
  else await bindMount(ready.lowerDir, ready.lowerDir, log);
  for (const dir of ['dev', 'proc', 'sys', 'run']) mkdirSync(resolveInRoot(newRoot, dir), { recursive: true });
  const [command = '/sbin/init', ...args] = initCommand(spec, ready.image.config);
  const where = { parameter: 'b2c.switch_root', image: spec.image };
  const init = findInit(newRoot, command, where);
  const env = initEnvironment(ready.image.config.config?.Env, readEnvFiles(spec, options.hostEnv, where), spec.env);
  log.info(`b2c.switch_root: ${spec.image}@${ready.image.manifestDigest} ready in ${newRoot}; init: ${[init, ...args].join(' ')}`);
  return { newRoot, init, args, env, ready };
}
