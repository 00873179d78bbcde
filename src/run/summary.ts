// The machine-readable end of a run: one JSON line beside boot2container's human lines, so farms
// stop scraping prose and every run records exactly which bytes ran (docs/pipeline.md).
import type { TpmRecord } from '../tpm/boot.ts';

/** The line starts with this marker, then one space, then the JSON document. */
export const SUMMARY_MARKER = 'ocinit-summary:';
/** 2: `status` may be null (the pipeline never started), `outcome` and `notStarted` added. Optional fields (`tpm`) are added without a bump. */
export const SUMMARY_VERSION = 2;

export interface PhaseRecord {
  name: string;
  /** Seconds since boot. */
  start: number;
  duration: number;
}

export type ContainerOutcome =
  | 'exited'
  /** Exited with 129 or 130 after calling reboot(2) or poweroff: b2c's status counts it, ocinit's outcome does not. */
  | 'reboot_requested'
  | 'poweroff_requested'
  | 'timeout'
  /** Its image could not be pulled or verified: it failed in its turn with status 1 and nothing of it ran. */
  | 'pull_failed'
  /** Could not be created (user, bind source, env file, a failing container_start hook): status 1. */
  | 'not_started'
  | 'skipped'
  | 'stopped'
  | 'switched';

/**
 * ocinit's reading of the run, beside b2c's status number: `passed` when every b2c.container
 * exited 0 or asked for a reboot or power-off, `not_started` when the pipeline never started
 * (command line, network, cache device, extra arguments, network block devices), `no_pipeline`
 * when the command line names no container (b2c then skips the pipeline and prints no status).
 */
export type PipelineOutcome = 'passed' | 'failed' | 'not_started' | 'no_pipeline';

/** Why the pipeline never started: the stage of the boot that failed, and its first error line. */
export interface NotStarted {
  stage: string;
  reason: string;
}

export interface ContainerRecord {
  parameter: string;
  index: number;
  image: string;
  /** The manifest digest that was resolved and verified; null when the image was never resolved. */
  digest: string | null;
  /** Every blob was already in the store. */
  cached: boolean;
  /**
   * The signature verdict (docs/security.md): `signed: DIGEST verified with KEY (SCOPE)`, `unsigned:
   * accepted by SCOPE (insecureAcceptAnything)` or `unsigned: no policy`; absent when never resolved.
   */
  signature?: string;
  /** b2c.image_format=erofs: the dm-verity root hash its root was mounted under (absent otherwise). */
  rootHash?: string;
  outcome: ContainerOutcome;
  exitCode: number | null;
  start: number | null;
  duration: number | null;
  /** A service's output (stdout and stderr), unless b2c.service_console sent it to the console. */
  log?: string;
}

export interface RunSummary {
  version: number;
  /** boot2container's number, as in the `Execution is over` line; null when that line is not printed. */
  status: number | null;
  outcome: PipelineOutcome;
  notStarted?: NotStarted;
  end: 'poweroff' | 'reboot' | 'switch_root';
  phases: PhaseRecord[];
  containers: ContainerRecord[];
  /** What the operator must not miss, e.g. an image that ran from the cache during a registry outage. */
  notices: string[];
  /** b2c.tpm: the PCR, banks and event log of what was measured; absent when nothing was (docs/security.md). */
  tpm?: TpmRecord;
}

/** The summary of a boot whose pipeline never ran (`not_started`, `no_pipeline`). */
export function summaryWithoutPipeline(end: RunSummary['end'], notStarted?: NotStarted): RunSummary {
  return { version: SUMMARY_VERSION, status: null, outcome: notStarted === undefined ? 'no_pipeline' : 'not_started', ...(notStarted === undefined ? {} : { notStarted }), end, phases: [], containers: [], notices: [] };
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

export function formatSummary(summary: RunSummary): string {
  const rounded: RunSummary = {
    ...summary,
    phases: summary.phases.map((phase) => ({ ...phase, start: round(phase.start), duration: round(phase.duration) })),
    containers: summary.containers.map((record) => ({
      ...record,
      start: record.start === null ? null : round(record.start),
      duration: record.duration === null ? null : round(record.duration),
    })),
  };
  return `${SUMMARY_MARKER} ${JSON.stringify(rounded)}`;
}

/** The summary in a console transcript (the last one), for farms and tests. */
export function parseSummary(consoleText: string): RunSummary | undefined {
  const lines = consoleText.split(/\r?\n/).filter((line) => line.includes(SUMMARY_MARKER));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  try {
    return JSON.parse(last.slice(last.indexOf(SUMMARY_MARKER) + SUMMARY_MARKER.length)) as RunSummary;
  } catch {
    return undefined;
  }
}
