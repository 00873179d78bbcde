import type { Logger } from '../log/logger.ts';
import { runCommand } from '../system/exec.ts';
import { parseLeaseOutput } from './lease.ts';
import type { Lease } from './types.ts';
import { monotonicMs } from '../system/monotonic.ts';

/** Where `make initrd` puts initrd/rootfs/usr/share/ocinit/udhcpc.script. */
export const DEFAULT_UDHCPC_SCRIPT = '/usr/share/ocinit/udhcpc.script';

export interface DhcpRequest {
  name: string;
  /** monotonicMs() time by which a lease must be there. */
  deadline: number;
  hostname?: string | undefined;
  script?: string | undefined;
  log: Logger;
  signal?: AbortSignal | undefined;
  /** For a race: a path that does not exist yet; the script that creates it first applies its lease. */
  claim?: string | undefined;
}

/** `said`: udhcpc's (and its script's) last line of stderr, for when applying the lease failed. */
export type DhcpOutcome = { ok: true; lease: Lease; said: string | undefined } | { ok: false; detail: string };

/**
 * One DHCPv4 exchange on one interface with busybox udhcpc: a DISCOVER every second until the
 * deadline, exit after the first lease (`-q`) or when none came (`-n`). The script applies the
 * lease (address, routes, MTU: in shell, because each `ip` spawned from Node costs ~50 ms under
 * TCG) unless another racer claimed first, and reports it; resolv.conf is the caller's job.
 */
export async function requestLease(request: DhcpRequest): Promise<DhcpOutcome> {
  const remainingMs = request.deadline - monotonicMs();
  if (remainingMs < 500) return { ok: false, detail: 'no time left for DHCP' };
  const discoverCount = Math.max(1, Math.round(remainingMs / 1000));
  const argv = [
    'busybox', 'udhcpc', '-f', '-q', '-n',
    '-i', request.name,
    '-s', request.script ?? DEFAULT_UDHCPC_SCRIPT,
    '-t', String(discoverCount), '-T', '1',
    '-O', 'mtu', '-O', 'staticroutes', '-O', 'search',
    ...(request.hostname === undefined ? [] : ['-x', `hostname:${request.hostname}`]),
  ];
  const env = request.claim === undefined ? process.env : { ...process.env, OCINIT_DHCP_CLAIM: request.claim };
  const result = await runCommand(argv, { log: request.log, env, timeoutMs: remainingMs + 2_000, signal: request.signal });
  if (request.signal?.aborted === true) return { ok: false, detail: 'stopped: another interface got a lease first' };
  const lease = parseLeaseOutput(result.stdout);
  if (lease !== undefined) return { ok: true, lease, said: lastLine(result.stderr) };
  const said = lastLine(result.stderr) ?? lastLine(result.stdout);
  return { ok: false, detail: `no DHCP lease (udhcpc exit ${result.code}${said === undefined ? '' : `: ${said}`})` };
}

function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  return lines.at(-1);
}
