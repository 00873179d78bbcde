import { existsSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { OcinitError } from '../log/errors.ts';
import { runCommand } from '../system/exec.ts';
import { readTextOrEmpty } from '../system/read-text.ts';
import { openKernelLog } from '../system/kmsg.ts';
import { describeMissingFirmware, missingFirmware } from './firmware.ts';
import { absentDrivers, describeAbsentDriver, parseAbsentAliases } from './absent-drivers.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { monotonicMs } from '../system/monotonic.ts';
import { UeventWatch } from '../system/uevents.ts';

/** Every device's modalias under /sys/bus (pci, virtio, usb, acpi, platform, ...). */
function presentModaliases(sys = '/sys'): string[] {
  const aliases: string[] = [];
  for (const bus of readdirSafe(join(sys, 'bus'))) {
    const devices = join(sys, 'bus', bus, 'devices');
    for (const device of readdirSafe(devices)) {
      const alias = readTextOrEmpty(join(devices, device, 'modalias')).trim();
      if (alias) aliases.push(alias);
    }
  }
  return aliases;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function loadedModules(): Set<string> {
  return new Set(
    readTextOrEmpty('/proc/modules')
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter(Boolean),
  );
}

/** How often the watch for late devices (USB enumerates after its controller's driver loaded) scans. */
const LATE_DEVICE_POLL_MS = 250;

/** Names each firmware file a driver asked for and did not find, once, on the console. */
class FirmwareReporter {
  readonly #kernelLog = openKernelLog();
  readonly #reported = new Set<string>();
  constructor(private readonly log: Logger) {}

  report(): void {
    if (this.#kernelLog === undefined) return;
    for (const missing of missingFirmware(this.#kernelLog.readNew())) {
      if (this.#reported.has(missing.file)) continue;
      this.#reported.add(missing.file);
      this.log.warn(describeMissingFirmware(missing));
    }
  }

  close(): void {
    this.#kernelLog?.close();
  }
}

/**
 * Loads the drivers the hardware asks for: every device's modalias not tried yet goes to one
 * `modprobe -a`, which matches them against modules.alias itself (matching in JavaScript cost
 * seconds under TCG; modprobe takes a fraction of one).
 */
class DriverLoader {
  readonly #tried = new Set<string>();
  /** Reading every modalias file cost ~0.2 s of the demo boot under TCG in scans that found nothing new. */
  readonly #uevents = new UeventWatch();
  readonly firmware: FirmwareReporter;
  /** The aliases of the hardware modules the build left out (modules.alias.absent, initrd/drivers.ts). */
  readonly #absentAliases = parseAbsentAliases(readTextOrEmpty(join('/lib/modules', release(), 'modules.alias.absent')));
  constructor(private readonly log: Logger) {
    this.firmware = new FirmwareReporter(log);
  }

  /**
   * Aliases another pass already gave modprobe (initrd/init.sh's): marked tried, checked for
   * left-out drivers; with the uevent count its last listing started from, when it noted one.
   */
  seed(aliases: readonly string[], ueventCount: string): void {
    this.#uevents.seen(ueventCount);
    for (const alias of aliases) this.#tried.add(alias);
    this.#reportAbsent(aliases);
  }

  #reportAbsent(aliases: readonly string[]): void {
    if (this.#absentAliases.length > 0) for (const absent of absentDrivers(aliases, this.#absentAliases)) this.log.warn(describeAbsentDriver(absent));
  }

  /** One pass over the devices present; whether any was new. */
  async scan(): Promise<boolean> {
    const fresh = this.#uevents.changed() ? [...new Set(presentModaliases())].filter((alias) => !this.#tried.has(alias)) : [];
    if (fresh.length > 0) {
      for (const alias of fresh) this.#tried.add(alias);
      // Most aliases have no driver (bridges, timers, built-ins): modprobe then exits non-zero quietly.
      await runCommand(['modprobe', '-a', '-q', ...fresh]);
      this.#reportAbsent(fresh);
    }
    this.firmware.report();
    return fresh.length > 0;
  }
}

/**
 * initrd/init.sh's driver pass, run while Node starts: it writes `modules-before` (/proc/modules
 * before it) and `aliases` (what it gave modprobe) before the launcher starts, `done` at its end.
 */
const EARLY_DRIVERS_DIR = '/run/ocinit/early-drivers';
const EARLY_PASS_POLL_MS = 20;
/** modprobe copes with a module loading twice at once: past this the launcher scans without waiting more. */
const EARLY_PASS_WAIT_MS = 30_000;

interface EarlyPass {
  modulesBefore: Set<string>;
  aliases: string[];
  /** /sys/kernel/uevent_seqnum before its last listing of the devices ('' if unknown). */
  ueventCount: string;
}

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean);
}

/** Waits for the early pass to end; undefined when there was none (b2c.insmods, RUNTIME_IMAGE without /proc). */
export async function earlyPass(log: Logger, dir = EARLY_DRIVERS_DIR, waitMs = EARLY_PASS_WAIT_MS): Promise<EarlyPass | undefined> {
  const before = join(dir, 'modules-before');
  if (!existsSync(before)) return undefined;
  const deadline = monotonicMs() + waitMs;
  while (!existsSync(join(dir, 'done'))) {
    if (monotonicMs() >= deadline) {
      log.warn(`the drivers /init started loading have not all loaded after ${waitMs / 1000} s: a driver may be stuck probing its device (see the kernel messages above); the launcher goes on loading drivers itself`);
      break;
    }
    await sleep(EARLY_PASS_POLL_MS);
  }
  return { modulesBefore: new Set(lines(readTextOrEmpty(before))), aliases: lines(readTextOrEmpty(join(dir, 'aliases'))), ueventCount: readTextOrEmpty(join(dir, 'uevent-seqnum')).trim() };
}

export interface HardwareDrivers {
  /** The modules loaded by the first passes. */
  loaded: string[];
  /** Ends the watch for devices that appear later; it also ends by itself at its deadline. */
  stopWatching(): Promise<void>;
}

/**
 * Loads the drivers for the hardware present, scanning again while a pass brings new devices
 * (virtio_pci makes the virtio NIC appear), then keeps watching for late devices for `watchMs`
 * in the background: a USB NIC or disk enumerates after xhci_hcd loaded, too late for the passes.
 */
export async function loadHardwareDrivers(log: Logger, watchMs = 0): Promise<HardwareDrivers> {
  const aliasFile = join('/lib/modules', release(), 'modules.alias');
  if (!existsSync(aliasFile)) {
    log.warn(`no ${aliasFile}: this initramfs carries no modules for kernel ${release()}; only built-in drivers are available`);
    return { loaded: [], stopWatching: () => Promise.resolve() };
  }
  const early = await earlyPass(log);
  const before = early?.modulesBefore ?? loadedModules();
  const loader = new DriverLoader(log);
  if (early !== undefined) {
    log.info(`/init loaded the drivers for ${early.aliases.length} device aliases while the launcher started`);
    loader.seed(early.aliases, early.ueventCount);
  }
  for (let round = 0; round < 5 && (await loader.scan()); round++);
  const afterPasses = loadedModules();
  const loaded = [...afterPasses].filter((name) => !before.has(name));

  const deadline = monotonicMs() + watchMs;
  // Aborting cuts the current wait short: the job should not start up to a poll interval late.
  const stop = new AbortController();
  const watch = (async () => {
    while (!stop.signal.aborted && monotonicMs() < deadline) {
      await sleep(LATE_DEVICE_POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted || !(await loader.scan())) continue;
      const late = [...loadedModules()].filter((name) => !afterPasses.has(name));
      for (const name of late) afterPasses.add(name);
      if (late.length > 0) log.info(`Drivers loaded for devices that appeared late: ${late.join(' ')}`);
    }
    // The network phase brings links up, and some drivers ask for their firmware only then.
    loader.firmware.report();
    loader.firmware.close();
  })();
  return {
    loaded,
    stopWatching: async () => {
      stop.abort();
      await watch;
    },
  };
}

/** b2c.insmods: each module in order, by name (modprobe, with dependencies) or by path (insmod). */
export async function loadRequestedModules(modules: readonly string[], log: Logger): Promise<void> {
  for (const module of modules) {
    const argv = module.includes('/') ? ['insmod', module] : ['modprobe', module.replace(/\.ko(\.(xz|zst|gz))?$/, '')];
    const result = await runCommand(argv, { log });
    if (result.code !== 0) {
      throw new OcinitError(`cannot load kernel module ${module}: ${result.stderr.trim() || `exit ${result.code}`}`, {
        parameter: 'b2c.insmods',
        hint: `check the module name; this initramfs has the modules listed in /lib/modules/${release()}/modules.dep (add it to initrd/modules.txt and rebuild)`,
      });
    }
  }
}
