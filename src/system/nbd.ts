// Network block devices (b2c.nbd): the kernel's nbd module and Debian's nbd-client.
import type { NbdSpec } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';
import { runChecked, runCommand } from './exec.ts';

/** nbd-client's own default, and the IANA port of NBD. */
export const NBD_DEFAULT_PORT = 10809;
/** The nbd module makes 16 devices unless told otherwise. */
const NBD_DEFAULT_DEVICES = 16;
/** Partitions per device: a whole NBD disk can then hold a B2C_CACHE partition like a local disk. */
const NBD_MAX_PARTITIONS = 16;
/** How long one nbd-client may take to reach the server and negotiate. */
const NBD_CONNECT_TIMEOUT_MS = 30_000;

/** `modprobe nbd` with enough devices for every b2c.nbd, and partition scanning. */
export function nbdModuleArgs(specs: readonly NbdSpec[]): string[] {
  const highest = Math.max(-1, ...specs.map((spec) => Number(/(\d+)$/.exec(spec.device)?.[1] ?? 0)));
  return ['modprobe', 'nbd', `nbds_max=${Math.max(NBD_DEFAULT_DEVICES, highest + 1)}`, `max_part=${NBD_MAX_PARTITIONS}`];
}

/** nbd-client's words to attach one device (the server's default export). */
export function nbdClientArgs(spec: NbdSpec): string[] {
  return ['nbd-client', spec.host, String(spec.port ?? NBD_DEFAULT_PORT), spec.device, ...(spec.connections === undefined ? [] : ['-connections', String(spec.connections)])];
}

function describe(spec: NbdSpec): string {
  return `b2c.nbd=${spec.device} (${spec.host}:${spec.port ?? NBD_DEFAULT_PORT})`;
}

/** Loads the module and attaches every device, in order; the first failure throws. */
export async function attachNbds(specs: readonly NbdSpec[], log: Logger): Promise<void> {
  if (specs.length === 0) return;
  await runChecked(nbdModuleArgs(specs), { log, what: 'loading the nbd module', hint: 'the initramfs lacks nbd.ko for this kernel (initrd/modules.txt)' });
  for (const spec of specs) {
    await runChecked(nbdClientArgs(spec), {
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
    const result = await runCommand(['nbd-client', '-d', spec.device], { log });
    if (result.code !== 0) log.warn(`${spec.device}: nbd-client -d failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
}
