import { writeFileSync } from 'node:fs';
import { describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { ip, listNetInterfaces } from '../system/netlink.ts';
import { requestDhcp6 } from './dhcp6-client.ts';
import { resolvConfText } from './resolv.ts';

export const DEFAULT_DHCP6_TIMEOUT_MS = 10_000;

export interface Dhcp6Options {
  log: Logger;
  /** What the IPv4 phase wrote to resolv.conf: DHCPv6's servers come after these. */
  nameservers: readonly string[];
  domains: readonly string[];
  resolvConfPath?: string | undefined;
  sysClassNet?: string | undefined;
  timeoutMs?: number | undefined;
  /** Alongside the boot: nothing here keeps the process alive. */
  background: boolean;
}

/**
 * IPv6 beyond SLAAC (which the kernel does by itself from router advertisements): stateful DHCPv6
 * on the interfaces that got IPv4 by DHCP, applied when a server answers. It runs alongside the
 * rest of the boot, since IPv4 already reaches the registry; it never throws, and it stays silent
 * when no DHCPv6 server answers (the usual IPv4-only farm).
 */
export async function configureDhcp6(names: readonly string[], options: Dhcp6Options): Promise<void> {
  const macs = new Map(listNetInterfaces(options.sysClassNet).map((netInterface) => [netInterface.name, netInterface.mac]));
  const found = await Promise.all(
    names.map(async (name) => {
      const mac = macs.get(name);
      if (mac === undefined || mac === '') return undefined;
      try {
        const outcome = await requestDhcp6(name, mac, { timeoutMs: options.timeoutMs ?? DEFAULT_DHCP6_TIMEOUT_MS, background: options.background });
        if (!outcome.ok) return undefined;
        await ip(['addr', 'replace', `${outcome.address}/128`, 'dev', name, 'valid_lft', String(outcome.validSeconds), 'preferred_lft', String(outcome.validSeconds)], options.log);
        options.log.info(`DHCPv6: ${name}: ${outcome.address}/128${outcome.nameservers.length > 0 ? `, dns ${outcome.nameservers.join(' ')}` : ''} (lease ${outcome.validSeconds} s)`);
        return outcome;
      } catch (error) {
        options.log.warn(`DHCPv6: ${name}: ${describeError(error)}`);
        return undefined;
      }
    }),
  );
  const leases = found.filter((outcome) => outcome !== undefined);
  const nameservers = leases.flatMap((lease) => lease.nameservers);
  if (nameservers.length === 0) return;
  try {
    writeFileSync(options.resolvConfPath ?? '/etc/resolv.conf', resolvConfText([...options.nameservers, ...nameservers], [...options.domains, ...leases.flatMap((lease) => lease.domains)]));
  } catch (error) {
    options.log.warn(`DHCPv6: cannot update resolv.conf: ${describeError(error)}`);
  }
}
