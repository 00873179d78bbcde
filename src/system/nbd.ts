// Network block devices (b2c.nbd): the kernel's nbd module and initrd/ocinit-nbd.c, a static
// client of the ioctl interface (Debian's nbd-client would bring 2.2 MiB of TLS libraries).
import { lookup } from 'node:dns/promises';
import type { NbdSpec } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { runChecked, runCommand } from './exec.ts';

/** The IANA port of NBD, nbd-client's default too. */
export const NBD_DEFAULT_PORT = 10809;
/** The nbd module makes 16 devices unless told otherwise. */
const NBD_DEFAULT_DEVICES = 16;
/** Partitions per device: a whole NBD disk can then hold a B2C_CACHE partition like a local disk. */
const NBD_MAX_PARTITIONS = 16;
/** How long attaching one device may take (connect and negotiate every connection). */
const NBD_CONNECT_TIMEOUT_MS = 30_000;

/** `modprobe nbd` with enough devices for every b2c.nbd, and partition scanning. */
export function nbdModuleArgs(specs: readonly NbdSpec[]): string[] {
  const highest = Math.max(-1, ...specs.map((spec) => Number(/(\d+)$/.exec(spec.device)?.[1] ?? 0)));
  return ['modprobe', 'nbd', `nbds_max=${Math.max(NBD_DEFAULT_DEVICES, highest + 1)}`, `max_part=${NBD_MAX_PARTITIONS}`];
}

export const NBD_HELPER = '/usr/sbin/ocinit-nbd';

/** The helper's words to attach one device (the server's default export) from `address`, an IP. */
export function nbdConnectArgs(spec: NbdSpec, address: string): string[] {
  return [NBD_HELPER, 'connect', address, String(spec.port ?? NBD_DEFAULT_PORT), spec.device, String(spec.connections ?? 1)];
}

/** The helper takes IP addresses: names are resolved here, with the launcher's resolver. */
async function resolve(spec: NbdSpec): Promise<string> {
  try {
    return (await lookup(spec.host)).address;
  } catch (error) {
    throw new OcinitError(`${describe(spec)}: cannot resolve ${spec.host}: ${(error as Error).message}`, { parameter: 'b2c.nbd', hint: 'check the name, or give the server as an IP address' });
  }
}

function describe(spec: NbdSpec): string {
  return `b2c.nbd=${spec.device} (${spec.host}:${spec.port ?? NBD_DEFAULT_PORT})`;
}

/** Loads the module and attaches every device, in order; the first failure throws. */
export async function attachNbds(specs: readonly NbdSpec[], log: Logger): Promise<void> {
  if (specs.length === 0) return;
  await runChecked(nbdModuleArgs(specs), { log, what: 'loading the nbd module', hint: 'the initramfs lacks nbd.ko for this kernel (initrd/modules.txt)' });
  for (const spec of specs) {
    await runChecked(nbdConnectArgs(spec, await resolve(spec)), {
      log,
      timeoutMs: NBD_CONNECT_TIMEOUT_MS,
      what: `attaching ${describe(spec)}`,
      hint: 'check that nbd-server runs there, serves a default export on that port, and that the device is not in use',
    });
    log.info(`${spec.device}: attached to ${spec.host}:${spec.port ?? NBD_DEFAULT_PORT}`);
  }
}

/** Disconnects every device (after their file systems were unmounted); failures are only logged. */
export async function detachNbds(specs: readonly NbdSpec[], log: Logger): Promise<void> {
  for (const spec of specs) {
    const result = await runCommand([NBD_HELPER, 'disconnect', spec.device], { log });
    if (result.code !== 0) log.warn(`${spec.device}: disconnecting failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
}
