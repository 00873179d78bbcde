// dm-verity devices over loop devices, through initrd/ocinit-dm.c (Node has no ioctl; Debian's
// dmsetup would bring 1.5 MiB of libdevmapper, libudev and libselinux for one table).
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { runCommand } from './exec.ts';

export const DM_HELPER = '/usr/sbin/ocinit-dm';
/** Debian's kernel has them as modules; a kernel with them built in makes modprobe fail quietly. */
const VERITY_MODULES = ['loop', 'dm_mod', 'dm_verity', 'erofs'];

export class DeviceMapperError extends OcinitError {}

let modulesLoaded: Promise<unknown> | undefined;

/** The verity target's table, with `@` where the helper puts the loop device (data and hashes share it). */
export interface VerityTable {
  dataBlocks: number;
  /** In hash blocks from the start of the file: the tree follows the data and the superblock. */
  hashStartBlock: number;
  blockSize: number;
  rootHash: string;
  salt: string;
}

export function verityTableText(table: VerityTable): string {
  const { blockSize, dataBlocks, hashStartBlock, rootHash, salt } = table;
  return `1 @ @ ${blockSize} ${blockSize} ${dataBlocks} ${hashStartBlock} sha256 ${rootHash} ${salt}`;
}

export interface VerityDevice {
  /** The verity device's node, /dev/dm-N. */
  device: string;
  /** The loop device under it: the kernel's verity errors name it by its numbers (7:N). */
  loop: string;
}

/** Opens `file` read-only as dm-verity device `name`. */
export async function openVerity(name: string, file: string, table: VerityTable, context: { image: string; log: Logger }): Promise<VerityDevice> {
  modulesLoaded ??= runCommand(['modprobe', '-a', '-q', ...VERITY_MODULES], { log: context.log }).catch(() => undefined);
  await modulesLoaded;
  const result = await runCommand([DM_HELPER, 'verity', name, file, verityTableText(table)], { log: context.log });
  const [, device, loop] = /^(\/dev\/dm-\d+) (\/dev\/loop\d+)$/.exec(result.stdout.trim()) ?? [];
  if (result.code !== 0 || device === undefined || loop === undefined) {
    throw new DeviceMapperError(`opening ${file} as dm-verity device ${name} failed: ${result.stderr.trim() || `exit ${result.code}`}`, {
      image: context.image,
      hint: 'the initramfs needs loop, dm-mod and dm-verity for this kernel (initrd/modules.txt) and ocinit-dm',
    });
  }
  return { device, loop };
}

/** Removes a device-mapper device (its loop device goes with it); failures are only logged. */
export async function removeDevice(name: string, log: Logger): Promise<void> {
  const result = await runCommand([DM_HELPER, 'remove', name], { log });
  if (result.code !== 0) log.warn(`removing device-mapper device ${name} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
}
