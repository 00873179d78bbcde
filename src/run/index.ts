// The run phase as the launcher calls it: a RAM-backed state directory, crun set up for the
// initramfs, the pipeline, then the summary line.
import { readFileSync } from 'node:fs';
import { RAM_SCRATCH, type Storage } from '../cache/index.ts';
import type { EndAction } from '../boot/handoff.ts';
import type { Plan } from '../cmdline/plan.ts';
import { describeError } from '../log/errors.ts';
import { ImageCache, signaturePolicy } from '../cache/images.ts';
import { signatureText } from '../policy/verifier.ts';
import { BootMeasurement } from '../tpm/boot.ts';
import type { Logger } from '../log/logger.ts';
import { mountMissing } from '../system/mount.ts';
import { runPipeline } from './pipeline.ts';
import { VolumeHooks } from './volume-hooks.ts';
import { Volumes } from './volumes.ts';
import { EXIT_NOT_STARTED } from './state.ts';
import { formatSummary, type ContainerRecord, type RunSummary } from './summary.ts';
import { prepareSwitchRoot } from './switch-root.ts';
import { mirrorConfigOf } from '../oci/mirrors.ts';

export { runPipeline, type HookPoint, type PipelineHooks, type PipelineOptions, type PipelineResult } from './pipeline.ts';
export { formatSummary, parseSummary, SUMMARY_MARKER, type RunSummary, type ContainerRecord, type PhaseRecord } from './summary.ts';
export { createRuntimeSpec, type RuntimeSpec, type RuntimeSpecInput } from './runtime-spec.ts';
export { resolveUser, type ProcessUser } from './user.ts';
export { resolveInRoot, readFileInRoot } from './root-path.ts';


/** Where the services' output files go in the initramfs (docs/pipeline.md). */
export const SERVICE_LOG_DIR = '/run/ocinit/services';

/** True when `/` is the initramfs (rootfs), where pivot_root(2) is refused. */
export function rootIsInitramfs(mountinfo: string): boolean {
  return mountinfo.split('\n').some((line) => {
    const [fields = '', after = ''] = line.split(' - ');
    return fields.split(' ')[4] === '/' && after.split(' ')[0] === 'rootfs';
  });
}

export interface JobResult {
  status: number;
  end: EndAction;
}

/** b2c.switch_root after a successful pipeline: the hand-off PID 1 carries out, and its summary record. */
async function switchRootEnd(plan: Plan, storage: Storage, log: Logger, summary: RunSummary, measurement: BootMeasurement): Promise<JobResult | undefined> {
  const spec = plan.switchRoot;
  if (spec === undefined) return undefined;
  const record: ContainerRecord = { parameter: spec.parameter, index: 1, image: spec.image, digest: null, cached: false, outcome: 'skipped', exitCode: null, start: null, duration: null };
  summary.containers.push(record);
  if (summary.status !== 0) {
    log.error(`b2c.switch_root: not switching to ${spec.image}: the pipeline failed (status ${summary.status})`);
    return undefined;
  }
  const start = log.now();
  try {
    const target = await log.section('ocinit_switch_root', `Preparing b2c.switch_root: ${spec.image}`, () =>
      prepareSwitchRoot(spec, { cache: new ImageCache(storage, log, signaturePolicy(plan), measurement), proxy: plan.proxy, mirrors: mirrorConfigOf(plan.registryMirrors), log, hostEnv: process.env, imageFormat: plan.imageFormat }),
    );
    Object.assign(record, { digest: target.ready.image.manifestDigest, cached: target.ready.fromCache, signature: signatureText(target.ready.image), outcome: 'switched' }, target.ready.rootHash === undefined ? {} : { rootHash: target.ready.rootHash });
    summary.phases.push({ name: 'switch_root', start, duration: log.now() - start });
    return { status: 0, end: { action: 'switch_root', newRoot: target.newRoot, init: target.init, args: target.args, env: target.env } };
  } catch (error) {
    log.error(`b2c.switch_root: cannot prepare ${spec.image}; powering off instead`);
    log.error(describeError(error));
    Object.assign(record, { outcome: 'not_started', exitCode: EXIT_NOT_STARTED });
    Object.assign(summary, { status: EXIT_NOT_STARTED, outcome: 'failed' });
    return { status: EXIT_NOT_STARTED, end: { action: 'poweroff' } };
  }
}

/** Runs the plan's containers on this machine (the launcher's run phase), prints the summary line, says how to end. */
export async function runJob(plan: Plan, storage: Storage, log: Logger): Promise<JobResult> {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const noPivot = rootIsInitramfs(mountinfo);
  if (!storage.persistent) await mountMissing([{ ...RAM_SCRATCH, target: storage.scratchDir }], log);
  const volumes = new Volumes(storage.volumesDir, plan, log, { persistent: storage.persistent });
  const hooks = new VolumeHooks(plan, { log, volumePath: (name) => volumes.named(name) });
  const measurement = new BootMeasurement({ mode: plan.tpm, pcr: plan.tpmPcr, cmdline: readFileSync('/proc/cmdline', 'utf8').trim(), log });
  const result = await runPipeline(plan, { storage, crun: { noPivot, log }, log, resolvConf: '/etc/resolv.conf', volumes, hooks, serviceLogDir: SERVICE_LOG_DIR, measurement });
  const switched = await switchRootEnd(plan, storage, log, result.summary, measurement);
  const job: JobResult = switched ?? { status: result.status, end: { action: result.end } };
  // An image that ran from the cache during an outage is repeated where farms look last.
  for (const notice of result.summary.notices) log.error(notice);
  const tpm = await measurement.record();
  log.info(formatSummary({ ...result.summary, status: job.status, end: job.end.action, ...(tpm === undefined ? {} : { tpm }) }));
  return job;
}
