import { uptimeSeconds } from '../log/logger.ts';

/**
 * Milliseconds on the log's clock (CLOCK_MONOTONIC), for the boot's deadlines and durations. Not
 * `performance.now()`: that global loads node:perf_hooks on first use, ~50 ms on a DUT under TCG.
 */
export function monotonicMs(): number {
  return uptimeSeconds() * 1000;
}
