/**
 * Milliseconds on the monotonic clock, for the boot's deadlines and durations. Not
 * `performance.now()`: that global loads node:perf_hooks on first use, ~50 ms on a DUT under TCG.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
