import type { Plan } from '../cmdline/plan.ts';

export type { InterfaceSpec, IpConfig, NtpPeer } from '../cmdline/plan.ts';

/** The parts of the Plan the network phase reads. */
export type NetworkPlan = Pick<Plan, 'interfaces' | 'ip' | 'ntpPeer' | 'proxy' | 'hostname'>;

export interface RouteSpec {
  destination: string;
  via: string;
}

/** What DHCP handed an interface, read from udhcpc's script output. */
export interface Lease {
  interface: string;
  address: string;
  prefixLength: number;
  routers: string[];
  nameservers: string[];
  /** Search domains, most specific first. */
  domains: string[];
  mtu?: number | undefined;
  routes: RouteSpec[];
  leaseSeconds?: number | undefined;
  server?: string | undefined;
  /** Whether the udhcpc script applied it: `no` when another interface claimed the race first. */
  applied: 'yes' | 'no' | 'failed';
}

/** How one interface ended up, for the summary line and for failures. */
export interface InterfaceReport {
  name: string;
  /** `static`, `dhcp`, or `skipped` (DHCP raced and another interface won). */
  method: 'static' | 'dhcp' | 'skipped';
  ok: boolean;
  addresses: string[];
  gateway?: string | undefined;
  nameservers: string[];
  /** What went wrong or what was seen (`no carrier after 5 s`, `no DHCP offer`). */
  detail?: string | undefined;
  elapsedMs: number;
}

export interface NetworkSummary {
  interfaces: InterfaceReport[];
  nameservers: string[];
  searchDomains: string[];
  elapsedMs: number;
}
