// The run phase as the launcher calls it: a RAM-backed state directory, crun set up for the
// initramfs, the pipeline, then the summary line.
import { readFileSync } from 'node:fs';
import type { Storage } from '../cache/index.ts';
import type { Plan } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';
import { mountTmpfs } from '../system/overlay.ts';
import { runPipeline, type PipelineResult } from './pipeline.ts';
import { formatSummary } from './summary.ts';

export { runPipeline, checkSupported, type PipelineDirectories, type PipelineOptions, type PipelineResult } from './pipeline.ts';
export { formatSummary, parseSummary, SUMMARY_MARKER, type RunSummary, type ContainerRecord, type PhaseRecord } from './summary.ts';
export { createRuntimeSpec, type RuntimeSpec, type RuntimeSpecInput } from './runtime-spec.ts';
export { resolveUser, type ProcessUser } from './user.ts';
export { resolveInRoot, readFileInRoot } from './root-path.ts';


/** True when `/` is the initramfs (rootfs), where pivot_root(2) is refused. */
export function rootIsInitramfs(mountinfo: string): boolean {
  return mountinfo.split('\n').some((line) => {
    const [fields = '', after = ''] = line.split(' - ');
    return fields.split(' ')[4] === '/' && after.split(' ')[0] === 'rootfs';
  });
}

/** Runs the plan's containers on this machine (the launcher's run phase) and prints the summary line. */
export async function runJob(plan: Plan, storage: Storage, log: Logger): Promise<PipelineResult> {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const noPivot = rootIsInitramfs(mountinfo);
  // In RAM the scratch directory is on the initramfs root, which overlayfs may refuse as an upper layer.
  if (!storage.persistent) await mountTmpfs(storage.scratchDir, 'mode=0755', log);
  const result = await runPipeline(plan, { dirs: storage, crun: { noPivot, log }, log, resolvConf: '/etc/resolv.conf' });
  log.info(formatSummary(result.summary));
  return result;
}
