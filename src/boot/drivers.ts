import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { OcinitError } from '../log/errors.ts';
import { runCommand } from '../system/exec.ts';

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Every device's modalias under /sys/bus (pci, virtio, usb, acpi, platform, ...). */
function presentModaliases(sys = '/sys'): string[] {
  const aliases: string[] = [];
  for (const bus of readdirSafe(join(sys, 'bus'))) {
    const devices = join(sys, 'bus', bus, 'devices');
    for (const device of readdirSafe(devices)) {
      const alias = readOrEmpty(join(devices, device, 'modalias')).trim();
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
    readOrEmpty('/proc/modules')
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter(Boolean),
  );
}

/**
 * Loads the drivers the hardware present asks for: every device's modalias goes to one
 * `modprobe -a`, which matches them against modules.alias itself (matching in JavaScript cost
 * seconds under TCG; modprobe takes a fraction of one). Loading a bus driver (virtio_pci) makes new
 * devices appear (a virtio NIC), so it scans again until a round brings no new device.
 */
export async function loadHardwareDrivers(log: Logger): Promise<string[]> {
  const aliasFile = join('/lib/modules', release(), 'modules.alias');
  if (!existsSync(aliasFile)) {
    log.warn(`no ${aliasFile}: this initramfs carries no modules for kernel ${release()}; only built-in drivers are available`);
    return [];
  }
  const before = loadedModules();
  const tried = new Set<string>();
  for (let round = 0; round < 5; round++) {
    const fresh = [...new Set(presentModaliases())].filter((alias) => !tried.has(alias));
    if (fresh.length === 0) break;
    for (const alias of fresh) tried.add(alias);
    // Most aliases have no driver (bridges, timers, built-ins): modprobe then exits non-zero quietly.
    await runCommand(['modprobe', '-a', '-q', ...fresh]);
  }
  return [...loadedModules()].filter((name) => !before.has(name));
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
