// Where the job's bytes live: the content store, named volumes and containers' writable layers.
// With b2c.cache_device=none (the default) all of it is in RAM and gone at power-off.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';

export interface Storage {
  /** Root of the content store (src/store ContentStore). */
  storeDir: string;
  /** Named volumes, one directory each. */
  volumesDir: string;
  /** Containers' writable layers, bundles and other per-boot scratch. */
  scratchDir: string;
  /** True when it survives a reboot (a cache device is mounted). */
  persistent: boolean;
  /** Sync and release it before the session ends (unmount, swap off). */
  close(): Promise<void>;
}

const RAM_ROOT = '/run/ocinit';

function inRam(root: string): Storage {
  const storage: Storage = {
    storeDir: join(root, 'store'),
    volumesDir: join(root, 'volumes'),
    scratchDir: join(root, 'scratch'),
    persistent: false,
    close: async () => {},
  };
  for (const dir of [storage.storeDir, storage.volumesDir, storage.scratchDir]) mkdirSync(dir, { recursive: true });
  return storage;
}

/** Opens the storage the plan asks for (b2c.cache_device). */
export async function openStorage(plan: Plan, log: Logger, ramRoot = RAM_ROOT): Promise<Storage> {
  if (plan.cacheDevice.kind !== 'none') {
    log.warn(`b2c.cache_device=${plan.cacheDevice.kind}: cache devices are not supported yet; keeping everything in RAM`);
  }
  return inRam(ramRoot);
}
