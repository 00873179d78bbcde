import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { OcinitError } from '../log/errors.ts';
import { runCommand } from '../system/exec.ts';
import { modulesForAliases, parseModulesAlias } from './modalias.ts';

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
 * Loads the drivers the hardware present asks for. Loading a bus driver (virtio_pci) makes new
 * devices appear (a virtio NIC), so it scans again until a round loads nothing new.
 */
export async function loadHardwareDrivers(log: Logger): Promise<string[]> {
  const moduleDir = join('/lib/modules', release());
  const aliasFile = join(moduleDir, 'modules.alias');
  if (!existsSync(aliasFile)) {
    log.warn(`no ${aliasFile}: this initramfs carries no modules for kernel ${release()}; only built-in drivers are available`);
    return [];
  }
  const rules = parseModulesAlias(readFileSync(aliasFile, 'utf8'));
  const attempted = new Set<string>();
  const loadedNow: string[] = [];
  for (let round = 0; round < 5; round++) {
    const already = loadedModules();
    const wanted = modulesForAliases(rules, presentModaliases()).filter((name) => !attempted.has(name) && !already.has(name));
    if (wanted.length === 0) break;
    for (const name of wanted) attempted.add(name);
    const result = await runCommand(['modprobe', '-a', ...wanted]);
    if (result.code !== 0) log.warn(`modprobe ${wanted.join(' ')}: ${result.stderr.trim() || `exit ${result.code}`}`);
    const after = loadedModules();
    loadedNow.push(...wanted.filter((name) => after.has(name)));
  }
  return loadedNow;
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
