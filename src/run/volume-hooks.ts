// boot2container's volume hooks: at each hook point, pull the volumes whose pull_on names it from
// their bucket and push those whose push_on names it; `push_on=changes` pushes while containers
// run and once more at the end. A hook fails when a transfer still fails after its retries.
import type { ContainerSpec, HookCondition, MinioAlias, MirrorTarget, Plan, VolumeSpec } from '../cmdline/plan.ts';
import { describeMirrorTarget } from '../cmdline/storage.ts';
import { describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Secret } from '../log/secret.ts';
import { S3Client, type S3ClientOptions } from '../s3/client.ts';
import { scanDirectory, push, pull, type SyncOptions, type SyncResult } from '../volumes/sync.ts';
import { excluder, type MirrorEntry } from '../volumes/mirror.ts';
import type { HookPoint, PipelineHooks } from './pipeline.ts';


export interface VolumeHooksOptions {
  /** The volume's directory, created (or its b2c.filesystem mounted) by the pipeline's Volumes. */
  volumePath: (name: string) => Promise<string>;
  log: Logger;
  client?: Omit<S3ClientOptions, 'log'>;
  sync?: Pick<SyncOptions, 'concurrency' | 'retryDelayMs'>;
  /** How often `push_on=changes` looks for changed files (default 1 s). */
  watchIntervalMs?: number;
}

/** The conditions a volume's pushes really run at: with `changes`, only that (b2c ignores the rest). */
function pushConditions(volume: VolumeSpec): readonly HookCondition[] {
  return volume.pushOn.includes('changes') ? ['changes'] : volume.pushOn;
}

export function isMirrored(volume: VolumeSpec): boolean {
  return (volume.pullFrom !== undefined && volume.pullOn.length > 0) || (volume.pushTo !== undefined && volume.pushOn.length > 0);
}

class ChangeWatcher {
  readonly #interval: NodeJS.Timeout;
  #running: Promise<void> = Promise.resolve();
  #last = '';
  #stopped = false;

  constructor(dir: string, intervalMs: number, pushNow: () => Promise<void>) {
    const tick = async (): Promise<void> => {
      const snapshot = JSON.stringify(await scanDirectory(dir).catch((): MirrorEntry[] => []));
      if (snapshot === this.#last || this.#stopped) return;
      this.#last = snapshot;
      await pushNow();
    };
    this.#interval = setInterval(() => {
      this.#running = this.#running.then(tick);
    }, intervalMs);
  }

  /** Stops looking and waits for a push under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#interval);
    await this.#running;
  }
}

/** `changes` is not a hook point: its pushes run between them, and once more at pipeline_end. */
export class VolumeHooks implements PipelineHooks {
  readonly #volumes: VolumeSpec[];
  readonly #aliases: Map<string, MinioAlias>;
  readonly #options: VolumeHooksOptions;
  readonly #log: Logger;
  /** Per alias, and per SSE-C key: a volume with encrypt_key= has clients of its own. */
  readonly #clients = new Map<Secret | undefined, Map<string, S3Client>>();
  readonly #watchers = new Map<string, ChangeWatcher>();
  readonly #proxy: Plan['proxy'];

  constructor(plan: Pick<Plan, 'volumes' | 'minio' | 'proxy'>, options: VolumeHooksOptions) {
    this.#proxy = plan.proxy;
    this.#volumes = plan.volumes.filter(isMirrored);
    this.#aliases = new Map(plan.minio.map((alias) => [alias.alias, alias]));
    this.#options = options;
    this.#log = options.log;
  }

  /** Whether anything runs at `point`; pipeline_start always checks the buckets of mirrored volumes. */
  has(point: HookPoint): boolean {
    if (this.#volumes.length === 0) return false;
    if (point === 'pipeline_start' || point === 'pipeline_end') return true;
    return this.#volumes.some((volume) => volume.pullOn.includes(point) || pushConditions(volume).includes(point));
  }

  /** Runs the hooks of `point`; false (after saying why) when one failed. */
  async run(point: HookPoint, container?: ContainerSpec): Promise<boolean> {
    void container;
    let ok = true;
    if (point === 'pipeline_start') {
      ok = await this.#setUp();
      if (!ok) {
        // No container runs and pipeline_end never comes: nothing will use the clients again.
        await this.close();
        return false;
      }
    }
    if (point === 'pipeline_end') ok = (await this.#stopWatchers()) && ok;
    for (const volume of this.#volumes) {
      if (volume.pullFrom !== undefined && volume.pullOn.includes(point)) ok = (await this.#transfer(volume, 'pull', volume.pullFrom)) && ok;
      if (volume.pushTo !== undefined && pushConditions(volume).includes(point)) ok = (await this.#transfer(volume, 'push', volume.pushTo)) && ok;
    }
    if (point === 'pipeline_start' && ok) this.#startWatchers();
    if (point === 'pipeline_end') await this.close();
    return ok;
  }

  #client(alias: string, customerKey: Secret | undefined): S3Client {
    const byAlias = this.#clients.get(customerKey) ?? new Map<string, S3Client>();
    this.#clients.set(customerKey, byAlias);
    const existing = byAlias.get(alias);
    if (existing !== undefined) return existing;
    const endpoint = this.#aliases.get(alias);
    // The command line check refuses mirrors to undefined aliases before anything runs.
    if (endpoint === undefined) throw new Error(`internal error: b2c.minio alias '${alias}' is not defined`);
    const client = new S3Client({ alias, url: endpoint.url, accessKey: endpoint.accessKey, secretKey: endpoint.secretKey }, { proxy: this.#proxy, ...this.#options.client, log: this.#log, customerKey });
    byAlias.set(alias, client);
    return client;
  }

  /** Volume set-up: each mirrored volume's directory, and its buckets reachable with its keys. */
  async #setUp(): Promise<boolean> {
    let ok = true;
    for (const volume of this.#volumes) {
      const targets = [volume.pullFrom, volume.pushTo].filter((target): target is MirrorTarget => target !== undefined);
      const checked = new Set<string>();
      try {
        await this.#options.volumePath(volume.name);
        for (const target of targets) {
          const key = `${target.alias}/${target.bucket}`;
          if (checked.has(key)) continue;
          checked.add(key);
          await this.#client(target.alias, volume.encryptKey).checkBucket(target.bucket);
        }
      } catch (error) {
        this.#log.error(`volume ${volume.name}: cannot set up its mirror`);
        this.#log.error(describeError(error));
        ok = false;
      }
    }
    return ok;
  }

  async #transfer(volume: VolumeSpec, direction: 'pull' | 'push', target: MirrorTarget): Promise<boolean> {
    const where = describeMirrorTarget(target);
    let result: SyncResult;
    try {
      const dir = await this.#options.volumePath(volume.name);
      const options: SyncOptions = { overwrite: volume.overwrite, remove: volume.remove, exclude: volume.exclude, preserve: volume.preserve, ...this.#options.sync, log: this.#log };
      result = await (direction === 'push' ? push : pull)(this.#client(target.alias, volume.encryptKey), dir, target, options);
    } catch (error) {
      this.#log.error(`volume ${volume.name}: the ${direction} ${direction === 'push' ? 'to' : 'from'} ${where} failed`);
      this.#log.error(describeError(error));
      // The bucket could not even be listed: every file meant for it is missing there.
      if (direction === 'push') {
        const excluded = excluder(volume.exclude);
        const paths = (await scanDirectory(await this.#options.volumePath(volume.name)).catch((): MirrorEntry[] => [])).map((entry) => entry.path).filter((path) => !excluded(path));
        if (paths.length > 0) this.#reportMissing(volume, where, paths, 'push');
      }
      return false;
    }
    const verb = direction === 'push' ? 'pushed' : 'pulled';
    this.#log.info(`volume ${volume.name}: ${verb} ${result.transferred.length} file(s) ${direction === 'push' ? 'to' : 'from'} ${where}${result.removed.length > 0 ? `, removed ${result.removed.length}` : ''}`);
    if (result.conflicts.length > 0) {
      this.#log.warn(`volume ${volume.name}: ${result.conflicts.length} file(s) differ and were left as they are (no overwrite option): ${result.conflicts.slice(0, 10).join(', ')}`);
    }
    if (result.failed.length === 0) return true;
    this.#reportMissing(volume, where, result.failed.map((item) => item.path), direction);
    const first = result.failed[0];
    if (first !== undefined) this.#log.error(describeError(first.error));
    return false;
  }

  #reportMissing(volume: VolumeSpec, where: string, paths: readonly string[], direction: 'pull' | 'push'): void {
    const destination = direction === 'push' ? `did not reach ${where}` : `did not arrive from ${where}`;
    this.#log.error(`volume ${volume.name}: ${paths.length} file(s) ${destination}: ${paths.slice(0, 20).join(', ')}${paths.length > 20 ? ', ...' : ''}`);
  }

  #startWatchers(): void {
    for (const volume of this.#volumes) {
      const target = volume.pushTo;
      if (target === undefined || !pushConditions(volume).includes('changes') || this.#watchers.has(volume.name)) continue;
      void this.#options.volumePath(volume.name).then((dir) => {
        const watcher = new ChangeWatcher(dir, this.#options.watchIntervalMs ?? 1000, async () => {
          // A failure here is reported and left to the final push at pipeline_end.
          await this.#transfer(volume, 'push', target);
        });
        this.#watchers.set(volume.name, watcher);
      });
    }
  }

  /** Stops the `changes` watchers and makes their final push; false when one failed. */
  async #stopWatchers(): Promise<boolean> {
    for (const watcher of this.#watchers.values()) await watcher.stop();
    this.#watchers.clear();
    let ok = true;
    for (const volume of this.#volumes) {
      if (volume.pushTo !== undefined && pushConditions(volume).includes('changes')) ok = (await this.#transfer(volume, 'push', volume.pushTo)) && ok;
    }
    return ok;
  }

  async close(): Promise<void> {
    for (const watcher of this.#watchers.values()) await watcher.stop();
    this.#watchers.clear();
    for (const client of [...this.#clients.values()].flatMap((byAlias) => [...byAlias.values()])) await client.close();
    this.#clients.clear();
  }
}
