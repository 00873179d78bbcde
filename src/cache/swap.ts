// b2c.swap: a swap file on the cache (created at boot, removed at shutdown) or a swap device.
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import type { SwapSpec } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { readDeviceContent } from '../system/block.ts';
import { allocateFile, makeSwap, swapOff, swapOn } from '../system/disk-tools.ts';

export interface ActiveSwap {
  path: string;
  /** Turns it off (and deletes the file when it was one). */
  disable(): Promise<void>;
}

/** The kernel's own line for `path` in /proc/swaps (size and use in KiB), if it is active. */
export async function swapStatus(path: string): Promise<string | undefined> {
  const text = await readFile('/proc/swaps', 'utf8').catch(() => '');
  return text.split('\n').find((line) => line.split(/\s+/)[0] === path)?.replace(/\s+/g, ' ');
}

async function setSwappiness(value: number | undefined, log: Logger): Promise<void> {
  if (value === undefined) return;
  await writeFile('/proc/sys/vm/swappiness', String(value));
  log.info(`swap: vm.swappiness = ${value}`);
}

async function swapDevice(device: string, log: Logger): Promise<ActiveSwap> {
  const content = await readDeviceContent(device);
  if (content.kind === 'empty') await makeSwap(device, log);
  else if (content.kind !== 'swap') {
    throw new OcinitError(`b2c.swap=${device} holds ${content.kind === 'unknown' ? 'unrecognised data' : `a ${content.kind} signature`}, not swap; it was left untouched`, {
      parameter: 'b2c.swap',
      hint: `run mkswap ${device} once, or give a size to get a swap file on the cache`,
    });
  }
  await swapOn(device, log);
  return { path: device, disable: () => swapOff(device, log) };
}

async function swapFile(path: string, bytes: number, log: Logger): Promise<ActiveSwap> {
  // A previous boot cut before its shutdown left one behind: start from a fresh file.
  await rm(path, { force: true });
  await allocateFile(path, bytes, log);
  await chmod(path, 0o600);
  await makeSwap(path, log);
  await swapOn(path, log);
  return {
    path,
    disable: async () => {
      await swapOff(path, log);
      await rm(path, { force: true });
    },
  };
}

/** Enables the swap the plan asks for; a swap file needs a cache (`swapFilePath`). */
export async function enableSwap(spec: SwapSpec, swapFilePath: string | undefined, log: Logger): Promise<ActiveSwap> {
  let active: ActiveSwap;
  if ('device' in spec) {
    active = await swapDevice(spec.device, log);
  } else {
    if (swapFilePath === undefined) {
      throw new OcinitError('b2c.swap asks for a swap file, but there is no cache device to hold it (a swap file in RAM would be pointless)', {
        parameter: 'b2c.swap',
        hint: 'add b2c.cache_device=auto (or /dev/X), or give a swap device: b2c.swap=/dev/sdb2',
      });
    }
    active = await swapFile(swapFilePath, spec.size, log);
    await setSwappiness(spec.swappiness, log);
  }
  log.info(`swap: active: ${(await swapStatus(active.path)) ?? `${active.path} (not listed in /proc/swaps)`}`);
  return {
    path: active.path,
    disable: async () => {
      const status = await swapStatus(active.path);
      if (status !== undefined) log.info(`swap: still active at the end of the session: ${status}`);
      await active.disable();
    },
  };
}
