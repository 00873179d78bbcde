// The machine-readable end of a run: one JSON line beside boot2container's human lines, so farms
// stop scraping prose and every run records exactly which bytes ran (docs/pipeline.md).

/** The line starts with this marker, then one space, then the JSON document. */
export const SUMMARY_MARKER = 'ocinit-summary:';
export const SUMMARY_VERSION = 1;

export interface PhaseRecord {
  name: string;
  /** Seconds since boot. */
  start: number;
  duration: number;
}

export type ContainerOutcome = 'exited' | 'timeout' | 'not_started' | 'skipped' | 'stopped' | 'switched';

export interface ContainerRecord {
  parameter: string;
  index: number;
  image: string;
  /** The manifest digest that was resolved and verified; null when the image was never resolved. */
  digest: string | null;
  /** Every blob was already in the store. */
  cached: boolean;
  outcome: ContainerOutcome;
  exitCode: number | null;
  start: number | null;
  duration: number | null;
}

export interface RunSummary {
  version: number;
  status: number;
  end: 'poweroff' | 'reboot' | 'switch_root';
  phases: PhaseRecord[];
  containers: ContainerRecord[];
  /** What the operator must not miss, e.g. an image that ran from the cache during a registry outage. */
  notices: string[];
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
