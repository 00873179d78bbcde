import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { OcinitError, describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { interfaceExists, ip, isCandidateInterface, listNetInterfaces, setIpv4Forwarding } from '../system/netlink.ts';
import { linkUpArgs, staticArgs, type IpArgs } from './commands.ts';
import { requestLease } from './dhcp.ts';
import { networkIntent } from './intent.ts';
import { configureDhcp6 } from './ipv6.ts';
import { waitForCarrier, waitForIpv6Dad } from './links.ts';
import { resolvConfText } from './resolv.ts';
import { failureLines, summaryLines } from './summary.ts';
import type { InterfaceReport, InterfaceSpec, Lease, NetworkPlan, NetworkSummary } from './types.ts';
import { monotonicMs } from '../system/monotonic.ts';

export const DEFAULT_DHCP_TIMEOUT_MS = 10_000;
export const DEFAULT_CARRIER_TIMEOUT_MS = 5_000;

export interface NetworkOptions {
  log: Logger;
  /** How long DHCP may take once a link has its carrier (default 10 s, like boot2container's retries). */
  timeoutMs?: number | undefined;
  /** How long to wait for a carrier on each link (default 5 s). */
  carrierTimeoutMs?: number | undefined;
  /**
   * DHCPv6 on the interfaces that got IPv4 by DHCP: alongside the boot (default), awaited before
   * returning (tests), or not at all.
   */
  dhcp6?: 'background' | 'wait' | 'off' | undefined;
  /**
   * Called once, as soon as the first DHCP client runs: the launcher evaluates the job's modules
   * then, while the lease is on its way, rather than before the network or after it.
   */
  whileLeasing?: (() => void) | undefined;
  /** The rest is for running on a host (tests, bench): where things are. */
  udhcpcScript?: string | undefined;
  resolvConfPath?: string | undefined;
  sysClassNet?: string | undefined;
}

/** Shared state of one run of the network phase. */
interface Run {
  plan: NetworkPlan;
  options: NetworkOptions;
  log: Logger;
  start: number;
  carrierTimeoutMs: number;
  carrierDeadline: number;
  dhcpTimeoutMs: number;
  /** options.whileLeasing, until it has been called. */
  whileLeasing: (() => void) | undefined;
}

/** `5 s`, `0.5 s`: a timeout as an operator wrote it. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function elapsed(run: Run): number {
  return monotonicMs() - run.start;
}

async function applyAll(commands: readonly IpArgs[], log: Logger): Promise<void> {
  for (const args of commands) await ip(args, log);
}

function failed(run: Run, name: string, method: InterfaceReport['method'], detail: string): InterfaceReport {
  return { name, method, ok: false, addresses: [], nameservers: [], detail, elapsedMs: elapsed(run) };
}

/** Bound on waiting for IPv6 duplicate address detection (one probe, 1 s, by default). */
const DAD_TIMEOUT_MS = 3_000;

async function configureStatic(run: Run, spec: InterfaceSpec): Promise<InterfaceReport> {
  await applyAll(staticArgs(spec), run.log);
  if (spec.forward) setIpv4Forwarding(spec.name, true);
  const carrier = await waitForCarrier(spec.name, run.carrierDeadline, { sysClassNet: run.options.sysClassNet });
  // A static IPv6 address cannot be used (or connected from) before DAD has cleared it.
  if (carrier && spec.addresses.some((cidr) => cidr.includes(':'))) await waitForIpv6Dad(spec.name, monotonicMs() + DAD_TIMEOUT_MS);
  return {
    name: spec.name,
    method: 'static',
    ok: true,
    addresses: [...spec.addresses],
    gateway: spec.gateway,
    nameservers: [...spec.nameservers],
    detail: carrier ? undefined : 'configured, but no carrier yet',
    elapsedMs: elapsed(run),
  };
}

/** Link up, carrier, then a lease, which the udhcpc script applies unless another racer claimed `claim` first. */
async function obtainLease(run: Run, name: string, race?: { signal: AbortSignal; claim: string }): Promise<{ lease: Lease } | { report: InterfaceReport }> {
  const signal = race?.signal;
  await ip(linkUpArgs(name), run.log);
  if (!(await waitForCarrier(name, run.carrierDeadline, { sysClassNet: run.options.sysClassNet, signal }))) {
    const detail = signal?.aborted === true ? 'stopped: another interface got a lease first' : `no carrier within ${seconds(run.carrierTimeoutMs)} (cable, switch port?)`;
    return { report: failed(run, name, 'dhcp', detail) };
  }
  const leasing = requestLease({
    name,
    deadline: monotonicMs() + run.dhcpTimeoutMs,
    hostname: run.plan.hostname,
    script: run.options.udhcpcScript,
    log: run.log,
    signal,
    claim: race?.claim,
  });
  const whileLeasing = run.whileLeasing;
  run.whileLeasing = undefined;
  whileLeasing?.();
  const outcome = await leasing;
  if (!outcome.ok) return { report: failed(run, name, 'dhcp', outcome.detail) };
  if (outcome.lease.applied === 'failed') {
    const why = outcome.said === undefined ? '' : `: ${outcome.said}`;
    return { report: failed(run, name, 'dhcp', `got ${outcome.lease.address} from ${outcome.lease.server ?? 'the DHCP server'}, but applying the lease failed${why}`) };
  }
  return { lease: outcome.lease };
}

/** The lease is on the interface already (the udhcpc script); add what b2c.iface asked on top of it. */
async function completeLease(run: Run, lease: Lease, spec?: InterfaceSpec): Promise<InterfaceReport> {
  if (spec !== undefined) {
    // b2c.iface=NAME,dhcp may add its own routes and nameservers to what the lease says.
    await applyAll(staticArgs({ name: spec.name, addresses: spec.addresses, gateway: spec.gateway, routes: spec.routes }).slice(1), run.log);
    if (spec.forward) setIpv4Forwarding(spec.name, true);
  }
  const server = lease.server === undefined ? '' : ` from ${lease.server}`;
  const leaseTime = lease.leaseSeconds === undefined ? '' : `, lease ${lease.leaseSeconds} s`;
  return {
    name: lease.interface,
    method: 'dhcp',
    ok: true,
    addresses: [`${lease.address}/${lease.prefixLength}`, ...(spec?.addresses ?? [])],
    gateway: spec?.gateway ?? lease.routes.find((route) => route.destination === '0.0.0.0/0')?.via ?? lease.routers[0],
    nameservers: [...(spec?.nameservers ?? []), ...lease.nameservers],
    detail: `lease${server}${leaseTime}`,
    elapsedMs: elapsed(run),
  };
}

async function configureDhcpSpec(run: Run, spec: InterfaceSpec): Promise<{ report: InterfaceReport; domains: string[] }> {
  const obtained = await obtainLease(run, spec.name);
  if ('report' in obtained) return { report: obtained.report, domains: [] };
  return { report: await completeLease(run, obtained.lease, spec), domains: obtained.lease.domains };
}

const INTERFACE_POLL_MS = 100;

/** The candidate interfaces present now (a USB NIC may register seconds after its driver loaded). */
function currentCandidates(run: Run): string[] {
  return listNetInterfaces(run.options.sysClassNet)
    .filter(isCandidateInterface)
    .map((candidate) => candidate.name);
}

/**
 * DHCP on every candidate at once, including interfaces that appear until the carrier deadline.
 * The first lease applied wins (the udhcpc scripts race for one claim directory, so exactly one
 * applies its lease); the other attempts are then stopped.
 */
async function raceDhcp(run: Run): Promise<{ reports: InterfaceReport[]; domains: string[] }> {
  const stop = new AbortController();
  const claim = join(tmpdir(), `ocinit-dhcp-claim-${process.pid}-${Math.floor(run.start)}`);
  const reports = new Map<string, InterfaceReport>();
  const attempts = new Map<string, Promise<void>>();
  let winner: Lease | undefined;
  rmSync(claim, { recursive: true, force: true });
  const attempt = async (name: string): Promise<void> => {
    try {
      const obtained = await obtainLease(run, name, { signal: stop.signal, claim });
      if ('report' in obtained) reports.set(name, obtained.report);
      else if (obtained.lease.applied === 'yes') {
        winner = obtained.lease;
        stop.abort();
      } else reports.set(name, failed(run, name, 'skipped', `lease of ${obtained.lease.address} not used: another interface was first`));
    } catch (error) {
      reports.set(name, failed(run, name, 'dhcp', describeError(error)));
    }
  };
  const launchNew = (late: boolean): void => {
    for (const name of currentCandidates(run)) {
      if (attempts.has(name)) continue;
      if (late) run.log.info(`Network interface ${name} appeared: trying DHCP on it too`);
      attempts.set(name, attempt(name));
    }
  };
  try {
    launchNew(false);
    while (!stop.signal.aborted && monotonicMs() < run.carrierDeadline) {
      // Woken by the winner: a lease applied mid-poll reached "Network ready" up to 100 ms late.
      await sleep(INTERFACE_POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
      if (!stop.signal.aborted) launchNew(true);
    }
    await Promise.all(attempts.values());
  } finally {
    rmSync(claim, { recursive: true, force: true });
  }
  const names = [...attempts.keys()];
  if (winner === undefined) return { reports: names.map((name) => reports.get(name) ?? failed(run, name, 'dhcp', 'no result')), domains: [] };
  const won = await completeLease(run, winner);
  const others = names.filter((name) => name !== won.name).map((name) => ({ ...(reports.get(name) ?? failed(run, name, 'skipped', '')), method: 'skipped' as const }));
  return { reports: [won, ...others], domains: winner.domains };
}

async function firstWithCarrier(run: Run, names: readonly string[]): Promise<string | undefined> {
  await Promise.all(names.map((name) => ip(linkUpArgs(name), run.log)));
  const stop = new AbortController();
  const found = await Promise.all(
    names.map(async (name) => {
      const carrier = await waitForCarrier(name, run.carrierDeadline, { sysClassNet: run.options.sysClassNet, signal: stop.signal });
      if (carrier) stop.abort();
      return carrier ? name : undefined;
    }),
  );
  return found.find((name) => name !== undefined);
}

async function configureExplicit(run: Run, specs: readonly InterfaceSpec[], present: readonly string[]): Promise<{ reports: InterfaceReport[]; domains: string[] }> {
  const results = await Promise.all(
    specs.map(async (spec) => {
      if (!interfaceExists(spec.name, run.options.sysClassNet)) {
        return { report: failed(run, spec.name, spec.mode, `no such interface (present: ${present.join(', ') || 'none'})`), domains: [] };
      }
      try {
        return spec.mode === 'static' ? { report: await configureStatic(run, spec), domains: [] } : await configureDhcpSpec(run, spec);
      } catch (error) {
        return { report: failed(run, spec.name, spec.mode, describeError(error)), domains: [] };
      }
    }),
  );
  return { reports: results.map((result) => result.report), domains: results.flatMap((result) => result.domains) };
}

function noNetworkError(reports: readonly InterfaceReport[], parameter: string | undefined, present: readonly string[], timeouts: string): OcinitError {
  return new OcinitError(`network: no interface could be configured (${timeouts})\n${failureLines(reports).join('\n')}`, {
    parameter,
    hint:
      present.length === 0
        ? 'the kernel sees no network interface: is the NIC driver in the initramfs (b2c.insmods)?'
        : 'check the cables and that a DHCP server answers on this network, or configure the interface with b2c.iface/ip=',
  });
}

/**
 * The network phase: from the Plan to configured interfaces and /etc/resolv.conf.
 * Throws an OcinitError naming every interface tried and what it saw when none could be configured.
 */
export async function configureNetwork(plan: NetworkPlan, options: NetworkOptions): Promise<NetworkSummary> {
  const start = monotonicMs();
  const carrierTimeoutMs = options.carrierTimeoutMs ?? DEFAULT_CARRIER_TIMEOUT_MS;
  const run: Run = {
    plan,
    options,
    log: options.log,
    start,
    carrierTimeoutMs,
    carrierDeadline: start + carrierTimeoutMs,
    dhcpTimeoutMs: options.timeoutMs ?? DEFAULT_DHCP_TIMEOUT_MS,
    whileLeasing: options.whileLeasing,
  };
  const intent = networkIntent(plan);
  const all = listNetInterfaces(options.sysClassNet);
  const present = all.filter((candidate) => candidate.name !== 'lo').map((candidate) => candidate.name);
  const candidates = all.filter(isCandidateInterface).map((candidate) => candidate.name);
  const timeouts = `carrier timeout ${seconds(carrierTimeoutMs)}, DHCP timeout ${seconds(run.dhcpTimeoutMs)}`;
  if (intent.kind === 'off') {
    options.log.info('Network: off (ip=off)');
    return { interfaces: [], nameservers: [], searchDomains: [], elapsedMs: elapsed(run) };
  }
  options.log.info(`Network interfaces: ${present.join(', ') || 'none'}; candidates: ${candidates.join(', ') || 'none'}`);

  let outcome: { reports: InterfaceReport[]; domains: string[] };
  switch (intent.kind) {
    case 'explicit':
      outcome = await configureExplicit(run, intent.specs, present);
      break;
    case 'race':
      outcome = await raceDhcp(run);
      break;
    case 'static-first-carrier': {
      const name = await firstWithCarrier(run, candidates);
      outcome =
        name === undefined
          ? { reports: candidates.map((candidate) => failed(run, candidate, 'static', `no carrier within ${seconds(carrierTimeoutMs)}`)), domains: [] }
          : await configureExplicit(run, [{ name, ...intent.spec }], present);
      break;
    }
  }
  if (!outcome.reports.some((report) => report.ok)) throw noNetworkError(outcome.reports, intent.parameter, present, timeouts);

  const up = outcome.reports.filter((report) => report.ok);
  const nameservers = up.flatMap((report) => report.nameservers);
  if (nameservers.length > 0 || outcome.domains.length > 0) {
    writeFileSync(options.resolvConfPath ?? '/etc/resolv.conf', resolvConfText(nameservers, outcome.domains));
  }
  const summary: NetworkSummary = { interfaces: outcome.reports, nameservers, searchDomains: outcome.domains, elapsedMs: elapsed(run) };
  for (const line of summaryLines(summary)) options.log.info(line);
  for (const report of outcome.reports.filter((item) => !item.ok && item.method !== 'skipped')) {
    options.log.warn(`  ${report.name}: ${report.detail ?? 'failed'}`);
  }
  const dhcpInterfaces = up.filter((report) => report.method === 'dhcp').map((report) => report.name);
  if (dhcpInterfaces.length > 0 && options.dhcp6 !== 'off') {
    const ipv6 = configureDhcp6(dhcpInterfaces, {
      log: options.log,
      nameservers,
      domains: outcome.domains,
      resolvConfPath: options.resolvConfPath,
      sysClassNet: options.sysClassNet,
      background: options.dhcp6 !== 'wait',
    });
    if (options.dhcp6 === 'wait') await ipv6;
    else ipv6.catch((error: unknown) => options.log.warn(`DHCPv6: ${describeError(error)}`));
  }
  return summary;
}
