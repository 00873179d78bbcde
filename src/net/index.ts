// The network phase's public face, called by the boot launcher (src/boot/main.ts).
import type { Plan } from '../cmdline/plan.ts';
import { describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { configureNetwork } from './configure.ts';
import { setClockFromNtp } from './ntp.ts';
import type { NetworkSummary } from './types.ts';
import type { ExtraArgsOptions } from './extra-args.ts';

export type { NetworkSummary, InterfaceReport } from './types.ts';
export type { ExtraArgsOptions } from './extra-args.ts';
export { displayUrl } from './url.ts';
export { DEFAULT_CARRIER_TIMEOUT_MS, DEFAULT_DHCP_TIMEOUT_MS } from './configure.ts';

/**
 * Brings the links up and configures them from `b2c.iface`, else `ip=`, else DHCP on every
 * Ethernet-like interface (first lease wins); writes /etc/resolv.conf; logs the summary, inside
 * its own console section. `timeoutMs` bounds DHCP once a link has a carrier (default 10 s;
 * carrier wait: 5 s). DHCPv6 then runs alongside the boot on the DHCP interfaces (SLAAC is the
 * kernel's). Throws an OcinitError naming every interface tried and what it saw when none came up.
 */
export async function bringUpNetwork(plan: Plan, options: { log: Logger; timeoutMs?: number; whileLeasing?: () => void }): Promise<NetworkSummary> {
  return options.log.section('connect', 'Connect to the network', () => configureNetwork(plan, options));
}

/** `b2c.ntp_peer`: sets the clock by SNTP, bounded to ~10 s; never throws, logs the clock change. */
export async function syncClock(plan: Plan, log: Logger): Promise<void> {
  try {
    await setClockFromNtp(plan.ntpPeer, log);
  } catch (error) {
    log.warn(`NTP: ${describeError(error)}`);
  }
}

/**
 * `b2c.extra_args_url`: `fetchExtraArgs(url, { log, proxy? })` returns the text to merge into the
 * Plan; throws an OcinitError after bounded retries (4 tries, 10 s each; a 4xx fails at once).
 */
export async function fetchExtraArgs(url: string, options: ExtraArgsOptions): Promise<string> {
  // Its HTTP client (undici's) is evaluated only by the boots that ask for extra arguments: the
  // others reach DHCP without it.
  const extraArgs = await import('./extra-args.ts');
  return extraArgs.fetchExtraArgs(url, options);
}
