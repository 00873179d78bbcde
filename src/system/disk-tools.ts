// Partitioning, formatting, checking, unmounting and swap: thin wrappers over the Debian tools the
// initramfs ships (sfdisk, mke2fs, e2fsck) and busybox (umount, mkswap, swapon, swapoff, sync).
import type { Logger } from '../log/logger.ts';
import { OcinitError } from '../log/errors.ts';
import { runChecked, runCommand } from './exec.ts';

/**
 * Replaces whatever is on `disk` with a GPT holding one Linux partition over the whole disk, named
 * `name` (so that a later boot recognises the partition even if its formatting was cut short).
 */
export async function partitionWholeDisk(disk: string, name: string, log: Logger): Promise<void> {
  await runChecked(['sfdisk', '--quiet', '--wipe', 'always', '--wipe-partitions', 'always', disk], {
    log,
    input: `label: gpt\ntype=L, name=${name}\n`,
    what: `partitioning ${disk}`,
    hint: 'the disk may be read-only or failing; name another one with b2c.cache_device=/dev/X',
  });
}

/**
 * Turns on ext4's `encrypt` feature (online, idempotent) for a cache made without it, by an older
 * ocinit or by hand. False when tune2fs refused (not ext4, read-only...): the caller decides.
 */
export async function enableExt4Encryption(device: string, log: Logger): Promise<boolean> {
  const result = await runCommand(['tune2fs', '-O', 'encrypt', device], { log });
  if (result.code !== 0) log.warn(`cache: cannot turn on ext4 encryption on ${device}: ${result.stderr.trim() || `exit ${result.code}`}`);
  return result.code === 0;
}

/** Makes an ext4 filesystem labelled `label` on `device`, erasing it, with fscrypt support. */
export async function formatExt4(device: string, label: string, log: Logger): Promise<void> {
  // `encrypt`, as boot2container formats it: fscrypt_key volumes need it, whichever of the two made the cache.
  await runChecked(['mke2fs', '-t', 'ext4', '-F', '-q', '-O', 'encrypt', '-L', label, '-E', 'lazy_itable_init=1,lazy_journal_init=1', device], {
    log,
    what: `formatting ${device} as ext4`,
    hint: 'the device may be read-only or failing; name another one with b2c.cache_device=/dev/X',
  });
}

/**
 * Checks an ext4 filesystem and repairs what is safe to repair (`e2fsck -p`). Returns false when
 * problems remain that need a human or a reformat.
 */
export async function checkExt4(device: string, log: Logger): Promise<boolean> {
  const result = await runCommand(['e2fsck', '-p', device], { log });
  // 0: clean, 1: errors fixed, 2: fixed but a reboot is wanted (only matters for a mounted root).
  if (result.code <= 2) return true;
  log.warn(`e2fsck ${device} exited with ${result.code}: ${(result.stderr || result.stdout).trim()}`);
  return false;
}

/** Flushes every filesystem's dirty data to its device. */
export async function syncAll(): Promise<void> {
  await runCommand(['sync']);
}

export async function unmount(target: string, log: Logger): Promise<void> {
  const result = await runCommand(['umount', target], { log });
  if (result.code === 0) return;
  // Something still holds it open (a service that ignored SIGTERM): detach it so the journal is
  // flushed as soon as the last user goes; the sync before power-off covers the rest.
  log.warn(`umount ${target} failed: ${result.stderr.trim()}; detaching it lazily`);
  await runCommand(['umount', '-l', target], { log });
}

export async function makeSwap(path: string, log: Logger): Promise<void> {
  await runChecked(['mkswap', path], { log, what: `mkswap ${path}` });
}

export async function swapOn(path: string, log: Logger): Promise<void> {
  await runChecked(['swapon', path], {
    log,
    what: `swapon ${path}`,
    hint: 'the kernel may lack swap support, or the device holds no swap signature (mkswap it)',
  });
}

export async function swapOff(path: string, log: Logger): Promise<void> {
  const result = await runCommand(['swapoff', path], { log });
  if (result.code !== 0) log.warn(`swapoff ${path} failed: ${result.stderr.trim()}`);
}

/** Creates a swap file of exactly `bytes`, allocated (swap files must have no holes). */
export async function allocateFile(path: string, bytes: number, log: Logger): Promise<void> {
  const result = await runCommand(['fallocate', '-l', String(bytes), path], { log });
  if (result.code === 0) return;
  throw new OcinitError(`cannot allocate ${bytes} bytes for ${path}: ${result.stderr.trim()}`, {
    parameter: 'b2c.swap',
    hint: 'the cache partition may be too small: lower b2c.swap or use a bigger cache disk',
  });
}
