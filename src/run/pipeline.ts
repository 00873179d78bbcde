// The job: services, containers in order, post containers, with boot2container's semantics
// (docs/pipeline.md), timeouts, and a record of every container for the summary line.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec, Plan } from '../cmdline/plan.ts';
import { describeError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { ImageCache, signaturePolicy, type ImageMeasurement } from '../cache/images.ts';
import { signatureText } from '../policy/verifier.ts';
import type { Storage } from '../cache/index.ts';
import { deleteContainer, startContainer, warmUpCrun, type ContainerOutput, type CrunOptions, type RunningContainer } from '../system/crun.ts';
import { createBundle, runBundle, STOP_GRACE_MS, stopContainer, type Bundle, type ContainerContext } from './container.ts';
import { ImageStores } from './image-stores.ts';
import { ImageSet, type ReadyImage } from './images.ts';
import { EXIT_CANNOT_CREATE, EXIT_POWEROFF_REQUEST, EXIT_REBOOT_REQUEST, EXIT_TIMEOUT, PipelineState } from './state.ts';
import { SUMMARY_VERSION, type ContainerOutcome, type ContainerRecord, type PhaseRecord, type RunSummary } from './summary.ts';
import { Volumes } from './volumes.ts';
import { loadOverlay } from '../system/overlay.ts';
import { mirrorConfigOf } from '../oci/mirrors.ts';

/** b2c's hook conditions, in the order a pipeline reaches them. */
export type HookPoint = 'pipeline_start' | 'container_start' | 'container_end' | 'pipeline_end';

/** What runs at the hook points (volume mirroring); false when a hook failed. */
export interface PipelineHooks {
  has(point: HookPoint): boolean;
  run(point: HookPoint, container?: ContainerSpec): Promise<boolean>;
}

const NO_HOOKS: PipelineHooks = { has: () => false, run: async () => true };

/** b2c's status for a failed hook or volume set-up. */
const EXIT_HOOK_FAILED = 1;

/** ocinit's reading of a container's exit code (the code itself is b2c's and stays in `exitCode`). */
function exitOutcome(exitCode: number): ContainerOutcome {
  if (exitCode === EXIT_REBOOT_REQUEST) return 'reboot_requested';
  if (exitCode === EXIT_POWEROFF_REQUEST) return 'poweroff_requested';
  return 'exited';
}

export interface PipelineOptions {
  /** Where the job's bytes go: src/cache's Storage (RAM, or the cache device). */
  storage: Storage;
  crun: CrunOptions;
  log: Logger;
  resolvConf: string;
  hooks?: PipelineHooks;
  /** The job's volumes, when the hooks must share them (they create and mount them too). */
  volumes?: Volumes;
  hostEnv?: Readonly<Record<string, string | undefined>>;
  /** Between SIGTERM and SIGKILL when a container times out or a service is stopped. */
  stopGraceMs?: number;
  /** Where each service's output file goes (b2c.service_output=file); default the scratch directory's `services`. */
  serviceLogDir?: string;
  /** b2c.tpm at boot: each image is measured before it runs. */
  measurement?: ImageMeasurement;
}

export interface PipelineResult {
  status: number;
  end: 'poweroff' | 'reboot';
  summary: RunSummary;
}

interface Service {
  bundle: Bundle;
  running: RunningContainer;
}

function label(container: ContainerSpec): string {
  return `${container.parameter} #${container.index}${container.name === undefined ? '' : ` (${container.name})`}`;
}

function emptyRecord(container: ContainerSpec): ContainerRecord {
  return { parameter: container.parameter, index: container.index, image: container.image, digest: null, cached: false, outcome: 'skipped', exitCode: null, start: null, duration: null };
}

class PipelineRun {
  readonly #plan: Plan;
  readonly #log: Logger;
  readonly #context: ContainerContext;
  readonly #cache: ImageCache;
  readonly #images: ImageSet;
  readonly #state = new PipelineState();
  readonly #records = new Map<ContainerSpec, ContainerRecord>();
  readonly #ready = new Map<ContainerSpec, ReadyImage>();
  /** Containers whose image could not be pulled or verified: each fails in its turn. */
  readonly #unavailable = new Set<ContainerSpec>();
  readonly #phases: PhaseRecord[] = [];
  readonly #services: Service[] = [];
  readonly #hooks: PipelineHooks;
  #pipelineDeadline: number | undefined;
  #stores: ImageStores | undefined;
  readonly #serviceLogDir: string;

  constructor(plan: Plan, options: PipelineOptions) {
    this.#plan = plan;
    this.#log = options.log;
    this.#hooks = options.hooks ?? NO_HOOKS;
    this.#serviceLogDir = options.serviceLogDir ?? join(options.storage.scratchDir, 'services');
    const { storage } = options;
    for (const dir of [storage.storeDir, storage.imagesDir, storage.volumesDir, storage.scratchDir]) mkdirSync(dir, { recursive: true });
    this.#cache = new ImageCache(storage, options.log, signaturePolicy(plan), options.measurement);
    this.#images = new ImageSet({
      cache: this.#cache,
      imagesDir: storage.imagesDir,
      proxy: plan.proxy,
      mirrors: mirrorConfigOf(plan.registryMirrors),
      log: options.log,
      clock: () => options.log.now(),
      format: plan.imageFormat === 'erofs' ? { kind: 'erofs', mountDir: join(storage.scratchDir, 'verity') } : { kind: 'tree' },
    });
    this.#context = {
      containersDir: join(storage.scratchDir, 'containers'),
      volumes: options.volumes ?? new Volumes(storage.volumesDir, plan, options.log, { persistent: storage.persistent }),
      crun: options.crun,
      log: options.log,
      hostname: plan.hostname,
      resolvConf: options.resolvConf,
      hostEnv: options.hostEnv ?? process.env,
      stopGraceMs: options.stopGraceMs ?? STOP_GRACE_MS,
    };
    for (const container of this.#all()) this.#records.set(container, emptyRecord(container));
  }

  #all(): ContainerSpec[] {
    return [...this.#plan.services, ...this.#plan.containers, ...this.#plan.postContainers];
  }

  /** A phase of the summary in one of b2c's sections (`section`). */
  async #phase<T>(name: string, section: string, title: string, body: () => Promise<T>): Promise<T> {
    const start = this.#log.now();
    try {
      return await this.#log.section(section, title, body);
    } finally {
      this.#phases.push({ name, start, duration: this.#log.now() - start });
    }
  }

  #record(container: ContainerSpec): ContainerRecord {
    return this.#records.get(container) ?? emptyRecord(container);
  }

  /**
   * Every image, pulled and verified before anything runs. One that cannot be is remembered: its
   * container fails in its turn, as in b2c, and the others run. False only when the image stores
   * named by b2c.storage cannot be opened (a set-up failure, like b2c's volume set-up: nothing runs).
   */
  async #pullAll(): Promise<boolean> {
    if (this.#plan.additionalImageStores.length > 0) {
      try {
        this.#stores = await ImageStores.open(this.#plan, this.#log);
        this.#images.useStores(this.#stores);
      } catch (error) {
        this.#log.error(`b2c.storage: cannot open the image stores; nothing will run (status ${EXIT_HOOK_FAILED})`);
        this.#log.error(describeError(error));
        this.#state.fail(EXIT_HOOK_FAILED, 'b2c.storage');
        return false;
      }
    }
    for (const container of this.#all()) {
      try {
        const ready = await this.#images.get(container);
        this.#ready.set(container, ready);
        Object.assign(this.#record(container), { digest: ready.image.manifestDigest, cached: ready.fromCache, signature: signatureText(ready.image) }, ready.rootHash === undefined ? {} : { rootHash: ready.rootHash });
      } catch (error) {
        this.#log.error(`${label(container)}: cannot get ${container.image}; it will fail in its turn with status ${EXIT_CANNOT_CREATE}, nothing of it runs`);
        this.#log.error(describeError(error));
        this.#unavailable.add(container);
        this.#record(container).outcome = 'pull_failed';
      }
    }
    return true;
  }

  /** `effective` is the container as it will run (services lose -t); the image is the declared one's. */
  async #bundle(container: ContainerSpec, effective = container): Promise<Bundle | undefined> {
    const ready = this.#ready.get(container);
    if (ready === undefined) return undefined;
    try {
      return await createBundle(effective, ready, this.#state.environment(), this.#context);
    } catch (error) {
      this.#log.error(`${label(container)}: cannot create the container`);
      this.#log.error(describeError(error));
      return undefined;
    }
  }

  async #startServices(): Promise<void> {
    for (const declared of this.#plan.services) {
      // A terminal of their own would steal the console from the containers.
      const record = this.#record(declared);
      const bundle = await this.#bundle(declared, { ...declared, tty: false });
      record.start = this.#log.now();
      if (bundle === undefined) {
        if (!this.#unavailable.has(declared)) record.outcome = 'not_started';
        record.exitCode = EXIT_CANNOT_CREATE;
        continue;
      }
      await deleteContainer(bundle.id, this.#context.crun);
      const output = this.#serviceOutput(bundle.id, record);
      this.#log.info(`Starting service ${bundle.id}: ${declared.image}${record.log === undefined ? '' : `; its output goes to ${record.log}`}`);
      // Detached, as b2c's `podman start` without -a: no console input.
      const running = startContainer(bundle.id, bundle.dir, this.#context.crun, 'none', output);
      this.#services.push({ bundle, running });
      void running.exited.then((code) => {
        record.exitCode = code;
        record.duration = this.#log.now() - (record.start ?? 0);
        if (record.outcome === 'skipped') {
          record.outcome = 'exited';
          this.#log.warn(`service ${bundle.id} exited on its own with status ${code}`);
        }
      });
    }
  }

  /** b2c.service_output: a file of its own (named in the summary), or the console with a prefix. */
  #serviceOutput(id: string, record: ContainerRecord): ContainerOutput {
    if (this.#plan.serviceOutput === 'console') return { kind: 'lines', onLine: (line) => this.#log.info(`[${id}] ${line}`) };
    mkdirSync(this.#serviceLogDir, { recursive: true });
    record.log = join(this.#serviceLogDir, `${id}.log`);
    return { kind: 'file', path: record.log };
  }

  async #stopServices(): Promise<void> {
    for (const { bundle, running } of this.#services.splice(0)) {
      const record = [...this.#records.values()].find((item) => item.parameter === 'b2c.service' && `service-${item.index}` === bundle.id);
      if (record !== undefined && record.outcome === 'skipped') record.outcome = 'stopped';
      this.#log.info(`Stopping service ${bundle.id}`);
      await stopContainer(running, this.#context.stopGraceMs);
      await deleteContainer(bundle.id, this.#context.crun);
      await bundle.remove();
    }
  }

  /** Runs one hook point's hooks in b2c's `execute_hooks` section; true when there were none. */
  async #executeHooks(point: HookPoint, container?: ContainerSpec): Promise<boolean> {
    if (!this.#hooks.has(point)) return true;
    return this.#log.section('execute_hooks', `Execute the ${point} hooks`, () => this.#hooks.run(point, container));
  }

  /**
   * Runs one container attached to the console and records it; returns the status its turn counts
   * as. The sections are b2c's start_container's: `create_container`, `container_run` (the only
   * uncollapsed one: the job's own output), `b2c_post_container`, and `execute_hooks` around them.
   */
  async #runOne(container: ContainerSpec): Promise<number> {
    const record = this.#record(container);
    // As written on the command line (credentials masked): words joined again would lose their quotes.
    const title = `${label(container)}: ${container.source}`;
    record.start = this.#log.now();
    // b2c's start_container: a failing container_start hook is that container's status 1.
    const hooked = await this.#executeHooks('container_start', container);
    const bundle = hooked ? await this.#log.section('create_container', `Pull, create, and init the container: ${title}`, () => this.#bundle(container)) : undefined;
    // b2c's start_container returns 1 without its container_end hooks when it could not create the container.
    let exitCode = EXIT_CANNOT_CREATE;
    if (bundle === undefined) {
      if (!this.#unavailable.has(container)) record.outcome = 'not_started';
    } else {
      exitCode = await this.#log.section('container_run', title, () => this.#runBundle(container, bundle, record), { collapsed: false });
    }
    record.exitCode = exitCode;
    record.duration = this.#log.now() - record.start;
    await this.#log.section('b2c_post_container', `${label(container)} exited with status ${exitCode}`, async () => undefined);
    // b2c: a failing container_end hook makes that container's turn status 1, whatever it exited with.
    const hooksFailed = bundle !== undefined && !(await this.#executeHooks('container_end', container));
    const status = hooksFailed ? EXIT_HOOK_FAILED : exitCode;
    if (hooksFailed) this.#log.error(`${label(container)}: its container_end hooks failed: status ${status}`);
    this.#state.record(container, exitCode, status);
    return status;
  }

  /** The container in the foreground, within b2c.container_timeout and b2c.pipeline_timeout. */
  async #runBundle(container: ContainerSpec, bundle: Bundle, record: ContainerRecord): Promise<number> {
    const timeout = this.#plan.containerTimeoutSeconds;
    const own = timeout === undefined ? undefined : Date.now() + timeout * 1000;
    const pipeline = container.parameter === 'b2c.container' ? this.#pipelineDeadline : undefined;
    const deadline = own === undefined ? pipeline : pipeline === undefined ? own : Math.min(own, pipeline);
    try {
      const outcome = await runBundle(bundle, this.#context, deadline);
      record.outcome = outcome.timedOut ? 'timeout' : exitOutcome(outcome.exitCode);
      return outcome.exitCode;
    } catch (error) {
      this.#log.error(describeError(error));
      record.outcome = 'not_started';
      return EXIT_CANNOT_CREATE;
    } finally {
      await bundle.remove();
    }
  }

  async #runContainers(): Promise<void> {
    for (const container of this.#plan.containers) {
      if (this.#plan.pipefail && this.#state.status !== 0) {
        this.#log.info(`b2c.pipefail: skipping ${label(container)} (${container.image}) after a failure`);
        continue;
      }
      if (this.#pipelineDeadline !== undefined && Date.now() >= this.#pipelineDeadline) {
        this.#log.error(`b2c.pipeline_timeout reached: skipping ${label(container)} (${container.image})`);
        this.#state.fail(EXIT_TIMEOUT, 'b2c.pipeline_timeout');
        continue;
      }
      await this.#runOne(container);
    }
  }

  async run(): Promise<PipelineResult> {
    // While the images are pulled: the overlay module every container's root needs, and crun's pages.
    if (this.#all().length > 0) {
      void loadOverlay();
      void warmUpCrun(this.#context.crun);
    }
    // b2c: a failing pipeline_start hook (volume set-up included) is status 1 and runs no container.
    const started = await this.#executeHooks('pipeline_start');
    if (!started) this.#state.fail(EXIT_HOOK_FAILED, 'Pipeline-start hooks');
    const pulled = started && (await this.#phase('pull', 'start_pipeline', 'Run all the cmdline-specified containers: pulling and verifying every image first', () => this.#pullAll()));
    if (pulled) {
      const timeout = this.#plan.pipelineTimeoutSeconds;
      this.#pipelineDeadline = timeout === undefined ? undefined : Date.now() + timeout * 1000;
      await this.#phase('services', 'start_service_container', 'Pull, create, init, and start the service containers', () => this.#startServices());
      const started = this.#log.now();
      await this.#runContainers();
      this.#phases.push({ name: 'containers', start: started, duration: this.#log.now() - started });
      const postStarted = this.#log.now();
      for (const container of this.#plan.postContainers) await this.#runOne(container);
      this.#phases.push({ name: 'post_containers', start: postStarted, duration: this.#log.now() - postStarted });
    }
    // b2c: a failing pipeline_end hook makes a status of 0 into 1.
    if (started && !(await this.#executeHooks('pipeline_end'))) this.#state.fail(EXIT_HOOK_FAILED, 'Pipeline-end hooks');
    await this.#phase('cleanup', 'cleanup', 'Done executing the pipeline, clean up time!', async () => {
      await this.#stopServices();
      await this.#images.close();
      await this.#context.volumes.endPipeline();
      await this.#stores?.close(this.#log);
    });
    const summary: RunSummary = {
      version: SUMMARY_VERSION,
      status: this.#state.status,
      outcome: this.#state.failedOtherwise ? 'failed' : 'passed',
      end: this.#state.end,
      phases: this.#phases,
      containers: this.#all().map((container) => this.#record(container)),
      notices: [...this.#cache.notices, ...this.#images.notices],
    };
    return { status: this.#state.status, end: this.#state.end, summary };
  }
}

/** Runs the plan's services and containers; throws only for what must stop the job before it starts. */
export async function runPipeline(plan: Plan, options: PipelineOptions): Promise<PipelineResult> {
  return new PipelineRun(plan, options).run();
}
