// Volumes on a persistent cache outlive the boot, so `expiration=pipeline_end` ones a cut session
// could not remove are removed before the pipeline starts, as boot2container does (src/run removes
// them again at the end).
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeSpec } from '../cmdline/plan.ts';
import type { Logger } from '../log/logger.ts';

export async function removeExpiredVolumes(volumes: readonly VolumeSpec[], volumesDir: string, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  for (const volume of volumes) {
    if (volume.expiration !== 'pipeline_end') continue;
    const path = join(volumesDir, volume.name);
    if ((await stat(path).catch(() => undefined)) === undefined) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(volume.name);
    log.info(`cache: volume ${volume.name} removed before the pipeline (expiration=pipeline_end)`);
  }
  return removed;
}
