// One container: an overlay root over its unpacked image, a config.json, crun in the foreground,
// and everything removed again once it exited.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { ContainerSpec, EnvEntry } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { deviceMajorMinor } from '../system/block.ts';
import { deleteContainer, startContainer, type CrunOptions, type RunningContainer } from '../system/crun.ts';
import { mountOverlay, unmount } from '../system/overlay.ts';
import { OCINIT_VERSION } from '../version.ts';
import { mergeEnvironment, parseEnvFile, parseEnvList } from './env.ts';
import type { ReadyImage } from './images.ts';
import { CONTAINERENV_PATH, containerEnvText, hostContainersAddress, hostnameText, hostsText, podmanEnvironment, resolvConfWithServers } from './podman-defaults.ts';
import { readTextOrEmpty } from '../system/read-text.ts';
import { readFileInRoot, resolveInRoot } from './root-path.ts';
import { boundingCapabilities, createRuntimeSpec, workingDirectory, type OciMount, type RuntimeSpec } from './runtime-spec.ts';
import { resolveUser, type ProcessUser } from './user.ts';
import type { Volumes } from './volumes.ts';

/** The launcher's hosts file: podman's base for every container's /etc/hosts. */
const LAUNCHER_HOSTS = '/etc/hosts';
/** --init's binary: Debian's static catatonit, in the initramfs (initrd/binaries.txt) as on a host. */
const CONTAINER_INIT_BINARY = '/usr/bin/catatonit';
/** How long a container gets between SIGTERM and SIGKILL when it must stop (podman's default). */
export const STOP_GRACE_MS = 10_000;

export interface ContainerContext {
  /** Per-container directories (upper, work, merged root, config.json). */
  containersDir: string;
  volumes: Volumes;
  crun: CrunOptions;
  log: Logger;
  /** The machine's hostname, the containers' default. */
  hostname: string;
  /** The launcher's /etc/resolv.conf (written by the network phase), shared with the containers. */
  resolvConf: string;
  /** The launcher's environment, for `--env NAME` without value in env files. */
  hostEnv: Readonly<Record<string, string | undefined>>;
  stopGraceMs: number;
}

export interface Bundle {
  id: string;
  dir: string;
  spec: RuntimeSpec;
  /** The console with -i or -t (crun relays a terminal's input); /dev/null otherwise, as with podman. */
  stdin: 'console' | 'none';
  /** Unmounts the root and removes the bundle. */
  remove(): Promise<void>;
}

export function containerId(container: ContainerSpec): string {
  const kind = container.parameter === 'b2c.service' ? 'service' : container.parameter === 'b2c.post_container' ? 'post' : 'container';
  return `${kind}-${container.index}`;
}

function deviceNumbers(path: string, where: { parameter: string; image: string }): RuntimeSpec['linux']['devices'][number] {
  const info = statSync(path, { throwIfNoEntry: false });
  if (info === undefined || !(info.isCharacterDevice() || info.isBlockDevice())) {
    throw new OcinitError(`--device ${path}: no such device on this machine`, { ...where, hint: 'check the device name in the boot log (Block devices:)' });
  }
  const rdev = info.rdev;
  return {
    path,
    type: info.isCharacterDevice() ? 'c' : 'b',
    ...deviceMajorMinor(rdev),
    fileMode: info.mode & 0o7777,
    uid: 0,
    gid: 0,
  };
}

export function readEnvFiles(container: ContainerSpec, hostEnv: ContainerContext['hostEnv'], where: { parameter: string; image: string }): EnvEntry[] {
  return container.envFiles.flatMap((path) => {
    try {
      return parseEnvFile(readFileSync(path, 'utf8'), hostEnv);
    } catch (error) {
      throw new OcinitError(`cannot read --env-file ${path}: ${error instanceof Error ? error.message : String(error)}`, {
        ...where,
        hint: 'env files are read from the initramfs',
        cause: error,
      });
    }
  });
}

/** podman's files for one container (src/run/podman-defaults.ts), written in its bundle and bound in. */
function podmanFileMounts(container: ContainerSpec, ready: ReadyImage, id: string, bundleDir: string, hostname: string, resolvConf: string): OciMount[] {
  const etcDir = join(bundleDir, 'etc');
  mkdirSync(etcDir, { recursive: true });
  const name = container.name ?? id;
  const files: { destination: string; text: string }[] = [
    { destination: '/etc/hosts', text: hostsText({ base: readTextOrEmpty(LAUNCHER_HOSTS), hostname, name, hostAddress: hostContainersAddress(networkInterfaces()) }) },
    { destination: '/etc/hostname', text: hostnameText(hostname) },
    {
      destination: CONTAINERENV_PATH,
      text: containerEnvText({
        privileged: container.privileged,
        engine: `ocinit-${OCINIT_VERSION}`,
        name,
        id,
        image: ready.image.reference.canonical,
        imageId: ready.image.configDigest.replace(/^sha256:/, ''),
      }),
    },
  ];
  // Like podman: --dns=none keeps the image's own file, and so does a container without a network.
  if (!container.dns.includes('none') && container.network !== 'none') {
    files.push({ destination: '/etc/resolv.conf', text: resolvConfWithServers(readTextOrEmpty(resolvConf), container.dns) });
  }
  return files.map(({ destination, text }) => {
    const source = join(etcDir, destination.slice(destination.lastIndexOf('/') + 1));
    writeFileSync(source, text);
    return { destination, type: 'bind', source, options: ['bind', 'rw'] };
  });
}

/** podman's entries for ids the image lacks, appended in the container's own layer (the image stays as it is). */
function addUserEntries(rootfs: string, user: ProcessUser): void {
  for (const [file, line] of [['/etc/passwd', user.additions.passwd], ['/etc/group', user.additions.group]] as const) {
    if (line === undefined || readFileInRoot(rootfs, file) === undefined) continue;
    appendFileSync(resolveInRoot(rootfs, file), line);
  }
}

/** Builds the bundle: overlay root (upper in RAM), then config.json from the image config and the flags. */
export async function createBundle(container: ContainerSpec, ready: ReadyImage, pipelineEnv: EnvEntry[], context: ContainerContext): Promise<Bundle> {
  const id = containerId(container);
  const dir = join(context.containersDir, id);
  const where = { parameter: `${container.parameter} #${container.index}`, image: container.image };
  rmSync(dir, { recursive: true, force: true });
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  await mountOverlay(ready.lowerDir, join(dir, 'upper'), join(dir, 'work'), rootfs, context.log);
  const remove = async (): Promise<void> => {
    await unmount(rootfs, context.log).catch((error: unknown) => context.log.warn(`${String(error)}`));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const config = ready.image.config;
    const user = resolveUser(rootfs, container.user ?? config.config?.User, workingDirectory(container, config), where);
    addUserEntries(rootfs, user);
    const hostname = container.hostname ?? context.hostname;
    const imageEnv = parseEnvList(config.config?.Env);
    const env = mergeEnvironment(
      podmanEnvironment(hostname, user.home),
      imageEnv,
      readEnvFiles(container, context.hostEnv, where),
      container.env,
      pipelineEnv,
    );
    const spec = createRuntimeSpec({
      id,
      container,
      image: config,
      rootfs,
      user,
      env,
      hostname,
      extraMounts: [...podmanFileMounts(container, ready, id, dir, hostname, context.resolvConf), ...(await context.volumes.mountsFor(container))],
      availableCapabilities: boundingCapabilities(readFileSync('/proc/self/status', 'utf8')),
      initBinary: existsSync(CONTAINER_INIT_BINARY) ? CONTAINER_INIT_BINARY : undefined,
      devices: container.privileged ? [] : container.devices.map((device) => ({ ...deviceNumbers(device.hostPath, where), path: device.containerPath })),
    });
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
    return { id, dir, spec, stdin: container.interactive || spec.process.terminal ? 'console' : 'none', remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface ContainerOutcome {
  exitCode: number;
  timedOut: boolean;
}

/** Stops a running container: SIGTERM, then SIGKILL after a grace period. */
export async function stopContainer(running: RunningContainer, graceMs: number): Promise<number> {
  await running.kill('SIGTERM').catch(() => undefined);
  const grace = new Promise<'grace'>((resolve) => setTimeout(() => resolve('grace'), graceMs).unref());
  if ((await Promise.race([running.exited, grace])) === 'grace') await running.kill('SIGKILL').catch(() => undefined);
  return running.exited;
}

/** Runs the bundle in the foreground; `deadline` (ms since epoch) stops it with status 124. */
export async function runBundle(bundle: Bundle, context: ContainerContext, deadline: number | undefined): Promise<ContainerOutcome> {
  await deleteContainer(bundle.id, context.crun);
  const running = startContainer(bundle.id, bundle.dir, context.crun, bundle.stdin);
  let timer: NodeJS.Timeout | undefined;
  const expired =
    deadline === undefined
      ? new Promise<never>(() => undefined)
      : new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
        });
  try {
    const first = await Promise.race([running.exited, expired]);
    if (first !== 'timeout') return { exitCode: first, timedOut: false };
    context.log.error(`${bundle.id}: timed out, stopping it`);
    await stopContainer(running, context.stopGraceMs);
    return { exitCode: 124, timedOut: true };
  } finally {
    clearTimeout(timer);
    await deleteContainer(bundle.id, context.crun);
  }
}
