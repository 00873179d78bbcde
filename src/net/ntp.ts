import type { Logger } from '../log/logger.ts';
import { describeError } from '../log/errors.ts';
import { setSystemClock } from '../system/netlink.ts';
import { querySntp } from './sntp.ts';
import type { NtpPeer } from './types.ts';

export const NTP_POOL = 'pool.ntp.org';
const ATTEMPTS = 3;
const ATTEMPT_TIMEOUT_MS = 3_000;
/** Below this the clock is left alone: stepping it for nothing would only confuse log timestamps. */
const STEP_THRESHOLD_MS = 500;

export function ntpHost(peer: NtpPeer): string | undefined {
  switch (peer.kind) {
    case 'none':
      return undefined;
    case 'auto':
      return NTP_POOL;
    case 'host':
      return peer.host;
  }
}

/**
 * Sets the clock from `b2c.ntp_peer` (registry TLS needs a sane clock). Bounded (3 tries of 3 s),
 * and never fatal: a failure is a warning, the boot goes on with the clock it has.
 */
export async function setClockFromNtp(peer: NtpPeer, log: Logger, options: { port?: number; attemptTimeoutMs?: number } = {}): Promise<void> {
  const host = ntpHost(peer);
  if (host === undefined) return;
  const reasons: string[] = [];
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const reply = await querySntp(host, { timeoutMs: options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS, port: options.port });
    if (!reply.ok) {
      reasons.push(reply.reason);
      continue;
    }
    const before = new Date();
    const source = `${host}${reply.address !== undefined && reply.address !== host ? ` (${reply.address})` : ''}, stratum ${reply.stratum}`;
    if (Math.abs(reply.offsetMs) < STEP_THRESHOLD_MS) {
      log.info(`NTP: clock is right (offset ${(reply.offsetMs / 1000).toFixed(3)} s from ${source})`);
      return;
    }
    try {
      await setSystemClock((Date.now() + reply.offsetMs) / 1000, log);
      log.info(`NTP: clock changed from ${before.toISOString()} to ${new Date().toISOString()} (offset ${(reply.offsetMs / 1000).toFixed(3)} s from ${source})`);
    } catch (error) {
      log.warn(`NTP: could not set the clock (offset ${(reply.offsetMs / 1000).toFixed(3)} s from ${source}): ${describeError(error)}`);
    }
    return;
  }
  const distinct = reasons.filter((reason, index) => reasons.indexOf(reason) === index);
  log.warn(`NTP: no time from ${host} after ${ATTEMPTS} tries, keeping the clock at ${new Date().toISOString()} (b2c.ntp_peer): ${distinct.join('; ')}`);
}
