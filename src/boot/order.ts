// When the boot can open its storage: before the network, except when it lives on a network
// block device (b2c.nbd), which needs the network up first.
import type { Plan } from '../cmdline/plan.ts';

const NBD_DEVICE = /^\/dev\/nbd\d+(p\d+)?$/;

/** Whether the cache or swap may be on an NBD device: then storage opens once the NBDs are attached. */
export function storageAfterNetwork(plan: Plan): boolean {
  const cache = plan.cacheDevice;
  const cacheFilesystem = cache.kind === 'filesystem' ? plan.filesystems.find((filesystem) => filesystem.name === cache.name) : undefined;
  const onNbd = [cache.kind === 'device' ? cache.path : undefined, plan.swap !== undefined && 'device' in plan.swap ? plan.swap.device : undefined, cacheFilesystem?.source];
  return plan.nbd.length > 0 || onNbd.some((path) => path !== undefined && NBD_DEVICE.test(path));
}
