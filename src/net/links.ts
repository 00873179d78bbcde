import { setTimeout as sleep } from 'node:timers/promises';
import { hasCarrier, hasTentativeIpv6Address } from '../system/netlink.ts';
import { monotonicMs } from '../system/monotonic.ts';

const CARRIER_POLL_MS = 50;

/**
 * Waits until `name` has a carrier or `deadline` (monotonicMs() time) passes.
 * Resolves true with a carrier; false on timeout or when `signal` aborts.
 */
export async function waitForCarrier(name: string, deadline: number, options: { sysClassNet?: string | undefined; signal?: AbortSignal | undefined } = {}): Promise<boolean> {
  for (;;) {
    if (hasCarrier(name, options.sysClassNet)) return true;
    if (options.signal?.aborted === true || monotonicMs() >= deadline) return false;
    await sleep(Math.min(CARRIER_POLL_MS, Math.max(0, deadline - monotonicMs())));
  }
}

/** Waits until no IPv6 address of `name` is tentative, or `deadline` passes; true when none is left. */
export async function waitForIpv6Dad(name: string, deadline: number): Promise<boolean> {
  for (;;) {
    if (!hasTentativeIpv6Address(name)) return true;
    if (monotonicMs() >= deadline) return false;
    await sleep(Math.min(CARRIER_POLL_MS, Math.max(0, deadline - monotonicMs())));
  }
}
