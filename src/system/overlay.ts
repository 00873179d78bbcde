import { mkdirSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { runChecked, runCommand } from './exec.ts';
import { mount } from './mount.ts';
import { readTextOrEmpty } from './read-text.ts';

/** Whether /proc/filesystems (its text) lists `name`, built in or loaded. */
export function listsFilesystem(procFilesystems: string, name: string): boolean {
  return procFilesystems.split('\n').some((line) => line.split('\t')[1] === name);
}

let overlayLoaded: Promise<void> | undefined;

/**
 * Loads overlayfs unless the kernel has it already; once per process, errors ignored (the mount
 * reports them). The kernel loads the module itself only when modprobe is where it expects. Asked
 * for when the pull starts, the modprobe (0.12 s before the first container's mount in the demo
 * boot under TCG) runs while the images download; later containers cost no process.
 */
export function loadOverlay(): Promise<void> {
  overlayLoaded ??= listsFilesystem(readTextOrEmpty('/proc/filesystems'), 'overlay')
    ? Promise.resolve()
    : runCommand(['modprobe', 'overlay']).then(
        () => undefined,
        () => undefined,
      );
  return overlayLoaded;
}

/** A writable view of read-only `lower`: changes go to `upper` (work dir beside it). */
export async function mountOverlay(lower: string, upper: string, work: string, target: string, log?: Logger): Promise<void> {
  mkdirSync(upper, { recursive: true });
  mkdirSync(work, { recursive: true });
  await loadOverlay();
  await mount({ fstype: 'overlay', source: 'overlay', target, options: `lowerdir=${lower},upperdir=${upper},workdir=${work}` }, log);
}

export async function mountTmpfs(target: string, options: string, log?: Logger): Promise<void> {
  await mount({ fstype: 'tmpfs', source: 'tmpfs', target, options }, log);
}

export async function mountFilesystem(source: string, target: string, fstype: string | undefined, options: string[], log?: Logger): Promise<void> {
  mkdirSync(target, { recursive: true });
  const argv = ['mount', ...(fstype === undefined ? [] : ['-t', fstype]), ...(options.length > 0 ? ['-o', options.join(',')] : []), source, target];
  await runChecked(argv, { log, what: `mounting ${source} on ${target}` });
}

/** Lazy unmount: a container that left a process behind must not stop the shutdown. */
export async function unmount(target: string, log?: Logger): Promise<void> {
  await runChecked(['umount', '-l', target], { log, what: `unmounting ${target}` });
}

/** `mount --bind`; binding a directory onto itself makes it a mount point. */
export async function bindMount(source: string, target: string, log?: Logger): Promise<void> {
  mkdirSync(target, { recursive: true });
  await runChecked(['mount', '--bind', source, target], { log, what: `binding ${source} on ${target}` });
}
