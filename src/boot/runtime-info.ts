import { readFileSync, readdirSync } from 'node:fs';
import { cpus, machine, release, totalmem, version } from 'node:os';

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Block devices from /sys/block: name, size, and model where the device says. */
function blockDevices(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync('/sys/block').filter((name) => !/^(loop|ram|zram)/.test(name));
  } catch {
    return [];
  }
  return names.sort().map((name) => {
    const sectors = Number.parseInt(read(`/sys/block/${name}/size`) || '0', 10);
    const model = read(`/sys/block/${name}/device/model`);
    return `${name} (${humanBytes(sectors * 512)}${model ? `, ${model}` : ''})`;
  });
}

/**
 * The lines boot2container prints at start (its `Linux version:` and `Boot2container version:`
 * banner lines, which farms record), then kernel, architecture, CPU, RAM, block devices.
 */
export function runtimeInfo(ocinitVersion: string): string[] {
  const processors = cpus();
  const model = processors[0]?.model.trim() || 'unknown CPU';
  const disks = blockDevices();
  return [
    `Linux version: ${release()}`,
    // Never a b2c version number: a farm comparing versions must not mistake ocinit for an old b2c.
    `Boot2container version: ocinit ${ocinitVersion}`,
    `Kernel: Linux ${release()} ${version()}`,
    `Architecture: ${machine()}`,
    `CPU: ${processors.length} x ${model}`,
    `RAM: ${humanBytes(totalmem())}`,
    `Block devices: ${disks.length > 0 ? disks.join(', ') : 'none'}`,
  ];
}
