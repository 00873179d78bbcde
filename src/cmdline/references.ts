import { containerLabel } from './container.ts';
import type { MirrorTarget, Plan, Problem } from './plan.ts';
import { closestName } from './values.ts';

interface Origin {
  position: number;
  origin: 'cmdline' | 'extra_args';
}

// Where each plan entry was written, so that a reference checked later (after extra arguments were
// merged) still points at the right token.
const origins = new WeakMap<object, Origin>();

/** Records the token of every plan entry that doesn't have one yet (call after applying a token). */
export function rememberPositions(plan: Plan, position: number, origin: Origin['origin']): void {
  const entries: object[] = [plan.cacheDevice, plan.additionalImageStores, ...plan.volumes, ...plan.containers, ...plan.services, ...plan.postContainers];
  for (const entry of entries) if (!origins.has(entry)) origins.set(entry, { position, origin });
}

/**
 * Cross-parameter checks: names used by one parameter must be defined by another
 * (b2c.filesystem for cache and volumes and image stores, b2c.minio for mirrors).
 * `deferred`: the extra arguments may still define them, so say so.
 */
export function checkReferences(plan: Plan, sink: Problem[], deferred: boolean): void {
  const filesystems = new Set(plan.filesystems.map((filesystem) => filesystem.name));
  const aliases = new Set(plan.minio.map((alias) => alias.alias));
  const note = deferred ? ' (yet: it may come from b2c.extra_args_url)' : '';
  const report = (entry: object, parameter: string, message: string, hint: string): void => {
    const origin = origins.get(entry);
    sink.push({
      parameter,
      position: origin?.position ?? -1,
      message: `${message}${note}`,
      hint,
      ...(origin?.origin === 'extra_args' ? { origin: 'extra_args' as const } : {}),
    });
  };

  const { cacheDevice } = plan;
  if (cacheDevice.kind === 'filesystem' && !filesystems.has(cacheDevice.name)) {
    report(
      cacheDevice,
      'b2c.cache_device',
      `'${cacheDevice.name}' is not none, auto, reset, a /dev/ path, nor a defined b2c.filesystem`,
      `define b2c.filesystem=${cacheDevice.name},src=... or use b2c.cache_device=auto`,
    );
  }
  for (const store of plan.additionalImageStores) {
    if (!filesystems.has(store))
      report(plan.additionalImageStores, 'b2c.storage', `no b2c.filesystem named '${store}' is defined`, `define b2c.filesystem=${store},src=...`);
  }
  for (const volume of plan.volumes) {
    if (volume.filesystem !== undefined && !filesystems.has(volume.filesystem)) {
      report(volume, 'b2c.volume', `volume ${volume.name}: no b2c.filesystem named '${volume.filesystem}' is defined`, `define b2c.filesystem=${volume.filesystem},src=...`);
    }
    const targets = [volume.pullFrom, volume.pushTo].filter((target): target is MirrorTarget => target !== undefined);
    for (const alias of new Set(targets.map((target) => target.alias))) {
      if (!aliases.has(alias)) {
        report(volume, 'b2c.volume', `volume ${volume.name}: no b2c.minio alias named '${alias}' is defined`, `define b2c.minio=${alias},URL,ACCESS_KEY,SECRET_KEY`);
      }
    }
  }
}

/**
 * A container volume whose name is one typo away from a declared b2c.volume is almost certainly
 * that volume misspelt: podman would create an empty one and the job's results would be lost.
 */
export function checkVolumeTypos(plan: Plan, warnings: Problem[]): void {
  const declared = new Set(plan.volumes.map((volume) => volume.name));
  for (const spec of [...plan.services, ...plan.containers, ...plan.postContainers]) {
    for (const volume of spec.volumes) {
      if (volume.kind !== 'named' || declared.has(volume.source)) continue;
      const intended = closestName(volume.source, declared);
      if (intended === undefined) continue;
      const origin = origins.get(spec);
      warnings.push({
        parameter: spec.parameter,
        position: origin?.position ?? -1,
        message: `${containerLabel(spec)}: volume '${volume.source}' is not declared, but b2c.volume '${intended}' is: it would start empty and not be mirrored`,
        hint: `did you mean -v ${intended}:${volume.destination}?`,
        ...(origin?.origin === 'extra_args' ? { origin: 'extra_args' as const } : {}),
      });
    }
  }
}
