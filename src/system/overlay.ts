import { mkdirSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { runChecked, runCommand } from './exec.ts';
import { mount } from './mount.ts';

/** A writable view of read-only `lower`: changes go to `upper` (work dir beside it). */
export async function mountOverlay(lower: string, upper: string, work: string, target: string, log?: Logger): Promise<void> {
  mkdirSync(upper, { recursive: true });
  mkdirSync(work, { recursive: true });
  // The kernel loads the module itself only when modprobe is where it expects; ask once, ignore errors.
  await runCommand(['modprobe', 'overlay']).catch(() => undefined);
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
