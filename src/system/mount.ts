import { mkdirSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { runChecked } from './exec.ts';

export interface MountSpec {
  fstype: string;
  source: string;
  target: string;
  options?: string;
}

/** Mounts through busybox/util-linux `mount`, creating the mount point first. */
export async function mount(spec: MountSpec, log?: Logger): Promise<void> {
  mkdirSync(spec.target, { recursive: true });
  const argv = ['mount', '-t', spec.fstype];
  if (spec.options !== undefined) argv.push('-o', spec.options);
  argv.push(spec.source, spec.target);
  await runChecked(argv, { log, what: `mounting ${spec.fstype} on ${spec.target}` });
}
