import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { runChecked } from './exec.ts';

/** ARPHRD_ETHER in /sys/class/net/NAME/type: Ethernet and everything that frames like it (virtio, veth, tap). */
const ARPHRD_ETHER = 1;

export interface NetInterface {
  name: string;
  /** Link-layer type number from sysfs (1 = Ethernet). */
  type: number;
  isBridge: boolean;
  isWireless: boolean;
  mac: string;
}

function readSysfs(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined; // absent attribute, or one the kernel refuses to read in this state (carrier of a down link)
  }
}

/** Every interface the kernel knows, in name order. */
export function listNetInterfaces(sysClassNet = '/sys/class/net'): NetInterface[] {
  let names: string[];
  try {
    names = readdirSync(sysClassNet).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    // Template strings, not path.join: polled while DHCP runs, and join's normalising shows under TCG.
    const dir = `${sysClassNet}/${name}`;
    return {
      name,
      type: Number(readSysfs(`${dir}/type`) ?? -1),
      isBridge: existsSync(`${dir}/bridge`),
      isWireless: existsSync(`${dir}/wireless`) || existsSync(`${dir}/phy80211`),
      mac: readSysfs(`${dir}/address`) ?? '',
    };
  });
}

/** Interfaces DHCP may be tried on: Ethernet-like, not loopback, not a bridge, not Wi-Fi (it needs a supplicant). */
export function isCandidateInterface(netInterface: NetInterface): boolean {
  return netInterface.type === ARPHRD_ETHER && netInterface.name !== 'lo' && !netInterface.isBridge && !netInterface.isWireless;
}

/** True when the link has a carrier; false when it has none or is still down. */
export function hasCarrier(name: string, sysClassNet = '/sys/class/net'): boolean {
  return readSysfs(`${sysClassNet}/${name}/carrier`) === '1';
}

/** IFA_F_TENTATIVE in /proc/net/if_inet6: duplicate address detection is still running. */
const IFA_F_TENTATIVE = 0x40;

/** Whether `name` has an IPv6 address still in duplicate address detection (unusable until it ends, ~1 s). */
export function hasTentativeIpv6Address(name: string, procNetIfInet6 = '/proc/net/if_inet6'): boolean {
  let table: string;
  try {
    table = readFileSync(procNetIfInet6, 'utf8');
  } catch {
    return false; // no IPv6 in this kernel
  }
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .some((fields) => fields[5] === name && (Number.parseInt(fields[4] ?? '0', 16) & IFA_F_TENTATIVE) !== 0);
}

export function interfaceExists(name: string, sysClassNet = '/sys/class/net'): boolean {
  return existsSync(`${sysClassNet}/${name}`);
}

/**
 * Runs busybox's `ip ARGS...` (named explicitly so that tests on a host run the initramfs's ip, not
 * iproute2's); a failure is an OcinitError quoting ip's message.
 */
export async function ip(args: readonly string[], log: Logger): Promise<void> {
  await runChecked(['busybox', 'ip', ...args], { log, timeoutMs: 10_000, what: `ip ${args.join(' ')}` });
}

/** IPv4 forwarding for one interface (b2c.iface's `forward`). */
export function setIpv4Forwarding(name: string, enabled: boolean): void {
  writeFileSync(`/proc/sys/net/ipv4/conf/${name}/forwarding`, enabled ? '1\n' : '0\n');
}

/** Sets the system clock (needs CAP_SYS_TIME): busybox and coreutils `date` both take `-s @SECONDS`. */
export async function setSystemClock(unixSeconds: number, log: Logger): Promise<void> {
  await runChecked(['date', '-u', '-s', `@${Math.round(unixSeconds)}`], { log, timeoutMs: 5_000, what: 'setting the clock' });
}
