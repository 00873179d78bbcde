import { mkdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { runChecked } from './exec.ts';
import { shellQuote } from './shell.ts';

export interface MountSpec {
  fstype: string;
  source: string;
  target: string;
  options?: string;
}

/** The specs whose file system is not mounted at their target yet, going by a /proc/self/mounts text (a second mount would stack on the first). */
export function notYetMounted(specs: readonly MountSpec[], mounts: string): MountSpec[] {
  const mounted = new Set<string>();
  for (const line of mounts.split('\n')) {
    const [, target, fstype] = line.split(' ');
    if (target !== undefined && fstype !== undefined) mounted.add(`${fstype} ${target}`);
  }
  return specs.filter((spec) => !mounted.has(`${spec.fstype} ${spec.target}`));
}

/** /proc/self/mounts, or nothing before /proc is mounted. */
export function currentMounts(): string {
  try {
    return readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return ''; // no /proc yet: everything is to be mounted
  }
}

function mountArgv(spec: MountSpec): string[] {
  const argv = ['mount', '-t', spec.fstype];
  if (spec.options !== undefined) argv.push('-o', spec.options);
  argv.push(spec.source, spec.target);
  return argv;
}

/** Mounts through busybox/util-linux `mount`, creating the mount point first. */
export async function mount(spec: MountSpec, log?: Logger): Promise<void> {
  mkdirSync(spec.target, { recursive: true });
  await runChecked(mountArgv(spec), { log, what: `mounting ${spec.fstype} on ${spec.target}` });
}

/**
 * Mounts `specs` in order with one shell, creating each mount point just before (a point inside
 * an earlier mount, like /dev/pts, can only be made once that is mounted). One process instead of
 * one per mount: at boot, before caches are warm, every spawn costs tens of milliseconds.
 */
export async function mountAll(specs: readonly MountSpec[], log?: Logger): Promise<void> {
  const script = specs.map((spec) => `mkdir -p ${shellQuote(spec.target)} && ${mountArgv(spec).map(shellQuote).join(' ')}`).join(' && ');
  await runChecked(['sh', '-c', script], { log, what: `mounting ${specs.map((spec) => spec.target).join(', ')}` });
}

/** Mounts, in order, those of `specs` that are not mounted yet (one process for one or several). */
export async function mountMissing(specs: readonly MountSpec[], log?: Logger): Promise<void> {
  const missing = notYetMounted(specs, currentMounts());
  const [first, ...others] = missing;
  if (first === undefined) return;
  if (others.length === 0) await mount(first, log);
  else await mountAll(missing, log);
}
