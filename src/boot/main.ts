// The launcher: PID 1's only child (initrd/init.sh). It reads the command line, prepares the
// machine, runs the job, prints boot2container's final lines and leaves PID 1 a hand-off saying
// how to end the session. Whatever goes wrong, it must still reach that hand-off or die in a way
// init.sh recognises.
import { readFileSync, writeFileSync } from 'node:fs';
import { startupSnapshot } from 'node:v8';
import { formatProblem, mergeExtraArgs, parseCommandLine } from '../cmdline/index.ts';
import type { Plan } from '../cmdline/plan.ts';
// The modules that spawn processes, and the cache, network and container modules (with undici, zlib,
// tls... under them), are imported where the boot first needs them: bundled as CommonJS (build.mjs),
// they then cost nothing before the launcher's first line, a job that needs no network never loads
// them, and the startup snapshot (below) holds no child_process state.
import type { Storage } from '../cache/index.ts';
import { describeError, OcinitError } from '../log/errors.ts';
import { log } from '../log/logger.ts';
import type { JobResult } from '../run/index.ts';
import { formatSummary, summaryWithoutPipeline, type NotStarted } from '../run/summary.ts';
import { OCINIT_VERSION } from '../version.ts';
import type { HardwareDrivers } from './drivers.ts';
import { writeHandoff, type Handoff } from './handoff.ts';
import { SNAPSHOT_BUILTINS } from './snapshot-builtins.ts';
import { storageAfterNetwork } from './order.ts';

/**
 * A stage before the pipeline failed: as in boot2container, the boot then ends without the
 * `Execution is over` line (an infrastructure fault must not read as the job's), with ocinit's own
 * line instead (docs/pipeline.md, "When the pipeline never starts").
 */
class PipelineNotStarted extends Error {
  readonly notStarted: NotStarted;

  constructor(notStarted: NotStarted) {
    super(`pipeline not started: ${notStarted.stage}: ${notStarted.reason}`);
    this.notStarted = notStarted;
  }
}

/** The first line of an error's description: the reason on ocinit's not-started line. */
function firstLine(error: unknown): string {
  return (error instanceof OcinitError ? error.message : error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/**
 * Runs one stage of the boot before the pipeline; its failure is printed in full and becomes a
 * PipelineNotStarted naming the stage. `b2cLine` is boot2container's own error line for that failure.
 */
async function stage<T>(name: string, body: () => Promise<T>, b2cLine?: string): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof PipelineNotStarted) throw error;
    log.error(describeError(error));
    if (b2cLine !== undefined) log.error(b2cLine);
    throw new PipelineNotStarted({ stage: name, reason: firstLine(error) });
  }
}

let handoff: Handoff = {
  end: { action: 'poweroff' },
  shutdown: { poweroffDelaySeconds: 0, shutdownCommand: 'poweroff -f', rebootCommand: 'reboot -f' },
  final: false,
};

function updateHandoff(change: Partial<Handoff>): void {
  handoff = { ...handoff, ...change };
  writeHandoff(handoff);
}

function endOnUncaughtException(error: unknown): void {
  log.error(`ocinit: unexpected error, ending the session: ${describeError(error)}`);
  try {
    updateHandoff({ reason: `unexpected error: ${error instanceof Error ? error.message : String(error)}` });
  } finally {
    process.exit(70);
  }
}

async function triggerDebugCrash(plan: Plan): Promise<void> {
  if (plan.debugCrash === 'exception') {
    setImmediate(() => {
      throw new Error('b2c.debug_crash=exception: simulated launcher bug');
    });
    // Thrown before the boot goes on: a boot without a pipeline may otherwise end without ever
    // returning to the event loop (its drivers already loaded by /init).
    await new Promise((resolve) => setImmediate(resolve));
  } else if (plan.debugCrash === 'kill') {
    log.warn('b2c.debug_crash=kill: the launcher now kills itself with SIGKILL');
    process.kill(process.pid, 'SIGKILL');
  }
}

/** How Node started the launcher: from the startup snapshot /init.snapshot, or by compiling /init.js. */
let startedFrom: 'snapshot' | 'script' = 'script';

/** The watch for late devices, running from the driver loading until the storage and network are up. */
let driverWatch: HardwareDrivers | undefined;

/**
 * Runtime info, modules, drivers; the storage too unless it waits for the network (b2c.nbd). In
 * boot2container's sections: `runtime_info`, `load_modules`, `mount_cache_partition`.
 */
async function prepareMachine(plan: Plan, withStorage: boolean): Promise<Storage | undefined> {
  // Asked for now, the network module's evaluation overlaps the drivers still loading in other
  // processes (initrd/init.sh's early pass, modprobe); the job's (the registry client, undici:
  // most of a second under TCG) waits for DHCP to be under way (connect()). A failure shows where
  // they are awaited.
  if (needsNetwork(plan)) loadNetModule().catch(() => undefined);
  const [{ runtimeInfo }, { loadHardwareDrivers, loadRequestedModules }] = await Promise.all([import('./runtime-info.ts'), import('./drivers.ts')]);
  await log.section('runtime_info', 'Runtime information', async () => {
    for (const line of runtimeInfo(OCINIT_VERSION)) log.info(line);
    log.info(`Launcher: Node ${process.version}, ${startedFrom === 'snapshot' ? 'from its startup snapshot' : 'from /init.js'}`);
  });
  writeFileSync('/proc/sys/kernel/hostname', plan.hostname);
  return log.section('load_modules', 'Load the kernel modules wanted by the user', async () => {
    await loadRequestedModules(plan.modules, log);
    // Late devices (USB NICs and disks) are watched for while the cache and the network wait for them.
    const drivers = await loadHardwareDrivers(log, (plan.cache.waitSeconds + plan.dhcpTimeoutSeconds) * 1000);
    driverWatch = drivers;
    log.info(`Drivers loaded for the hardware present: ${drivers.loaded.length > 0 ? drivers.loaded.join(' ') : 'none needed'}`);
    if (!withStorage) log.info('The cache or swap may be on a network block device (b2c.nbd): opening the storage once the network is up');
  }).then(() => (withStorage ? openCacheStorage(plan) : undefined));
}

async function openCacheStorage(plan: Plan): Promise<Storage> {
  const { openStorage } = await import('../cache/index.ts');
  return log.section('mount_cache_partition', 'Mount the cache partition', () => stage('cache_device', () => openStorage(plan, log)));
}

/** b2c.nbd devices, then (when it waited for them) the storage. */
async function attachNetworkStorage(plan: Plan, storage: Storage | undefined): Promise<Storage> {
  return log.section('ocinit_nbd', 'Attaching network block devices', async () => {
    const { attachNbds } = await import('../system/nbd.ts');
    await stage('nbd', () => attachNbds(plan.nbd, log));
    return storage ?? openCacheStorage(plan);
  });
}

/** Whether anything in the plan talks to the network; a job with nothing to fetch boots without one. */
function needsNetwork(plan: Plan): boolean {
  const containers = plan.services.length + plan.containers.length + plan.postContainers.length;
  return containers > 0 || plan.nbd.length > 0 || plan.switchRoot !== undefined || plan.extraArgsUrl !== undefined || plan.ntpPeer.kind !== 'none' || plan.interfaces.length > 0 || (plan.ip !== undefined && plan.ip.kind !== 'off');
}

type NetModule = typeof import('../net/index.ts');
let netModule: Promise<NetModule> | undefined;

/** The network configuration, evaluated once, when first asked for. */
function loadNetModule(): Promise<NetModule> {
  netModule ??= import('../net/index.ts');
  return netModule;
}

type JobModule = typeof import('../run/index.ts');
let jobModule: Promise<JobModule> | undefined;

/** The container runner, with the registry client and undici under it: evaluated once, when first asked for. */
function loadJobModule(): Promise<JobModule> {
  jobModule ??= import('../run/index.ts');
  return jobModule;
}

/** Network, clock and extra arguments; returns the plan with the extra arguments merged in. */
async function connect(plan: Plan): Promise<Plan> {
  if (!needsNetwork(plan)) {
    log.info('Nothing in the command line needs the network: not configuring it');
    return plan;
  }
  const { bringUpNetwork, fetchExtraArgs, syncClock } = await loadNetModule();
  const whileLeasing = (): void => void loadJobModule().catch(() => undefined);
  await stage('network', () => bringUpNetwork(plan, { log, timeoutMs: plan.dhcpTimeoutSeconds * 1000, whileLeasing }), 'ERROR: Could not connect to the network, shutting down!');
  await log.section('ntp_set', 'Synchronize the clock', () => syncClock(plan, log));
  const url = plan.extraArgsUrl;
  if (url === undefined) return plan;
  const merged = await log.section('parse_extra_cmdline', 'Download and parse the extra command line', async () => {
    const text = await stage('extra_args', () => fetchExtraArgs(url, { log, proxy: plan.proxy }), 'ERROR: Could not download the extra command line, shutting down!');
    return mergeExtraArgs(plan, text, { env: process.env });
  });
  for (const warning of merged.warnings) log.warn(`warning (extra arguments): ${formatProblem(warning)}`);
  for (const late of merged.tooLate) log.warn(`ignored (extra arguments): ${formatProblem(late)}`);
  if (merged.problems.length > 0) {
    for (const problem of merged.problems) log.error(formatProblem(problem));
    log.error('ERROR: Failed to parse the extra command line, shutting down!');
    throw new PipelineNotStarted({ stage: 'extra_args', reason: `the extra arguments from b2c.extra_args_url have ${merged.problems.length} problem(s)` });
  }
  if (merged.plan.hostname !== plan.hostname) writeFileSync('/proc/sys/kernel/hostname', merged.plan.hostname);
  updateHandoff({ shutdown: merged.plan.shutdown });
  return merged.plan;
}

/**
 * Runs the job: the pipeline status, and how to end (a container's reboot request, b2c.switch_root);
 * undefined when there is no pipeline: b2c runs one only when the line names a b2c.container or a
 * b2c.post_container (services alone included), and then prints no status line.
 */
async function runJob(plan: Plan, storage: Storage): Promise<JobResult | undefined> {
  if (plan.containers.length + plan.postContainers.length === 0 && plan.switchRoot === undefined) {
    if (plan.services.length > 0) log.warn('b2c.service without any b2c.container or b2c.post_container: no pipeline, so the services do not start either (as in boot2container)');
    log.info(NO_PIPELINE_LINE);
    log.info(formatSummary(summaryWithoutPipeline('poweroff')));
    return undefined;
  }
  const { runJob: runContainers } = await loadJobModule();
  return stage('pipeline_setup', () => runContainers(plan, storage, log));
}

/** ocinit's line when the command line names no container (documented in docs/pipeline.md). */
const NO_PIPELINE_LINE = 'ocinit: no pipeline: the command line names no b2c.container and no b2c.post_container';

function reportNotStarted(notStarted: NotStarted): void {
  log.error(`ocinit: pipeline not started: ${notStarted.stage}: ${notStarted.reason}`);
  log.info(formatSummary(summaryWithoutPipeline('poweroff', notStarted)));
}

async function main(): Promise<void> {
  log.info(`ocinit ${OCINIT_VERSION}: launcher started`);
  const { mountPseudoFilesystems } = await import('./mounts.ts');
  await mountPseudoFilesystems();
  const commandLine = readFileSync('/proc/cmdline', 'utf8').trim();
  const { plan, problems, warnings } = parseCommandLine(commandLine, { env: process.env });
  updateHandoff({ shutdown: plan.shutdown });
  for (const warning of warnings) log.warn(`warning: ${formatProblem(warning)}`);

  if (problems.length > 0) {
    log.error(`The kernel command line has ${problems.length} problem(s); nothing will run:`);
    for (const problem of problems) log.error(formatProblem(problem));
    reportNotStarted({ stage: 'cmdline', reason: `the kernel command line has ${problems.length} problem(s)` });
  } else {
    await triggerDebugCrash(plan);
    try {
      await boot(plan);
    } catch (error) {
      if (!(error instanceof PipelineNotStarted)) throw error;
      reportNotStarted(error.notStarted);
    }
  }
  updateHandoff({ final: true });
}

/** Machine, network, storage, the job and its status line (none when there is no pipeline), then the storage closed. */
async function boot(plan: Plan): Promise<void> {
  let finalPlan: Plan;
  let storage: Storage;
  let early: Storage | undefined;
  try {
    early = await stage('machine', () => prepareMachine(plan, !storageAfterNetwork(plan)));
    finalPlan = await connect(plan);
    storage = finalPlan.nbd.length > 0 || early === undefined ? await attachNetworkStorage(finalPlan, early) : early;
  } catch (error) {
    // The pipeline never starts, but a cache mounted before the network failed is still unmounted, as in b2c.
    if (early !== undefined) await closeStorage(plan, early);
    throw error;
  } finally {
    await driverWatch?.stopWatching();
  }
  try {
    const job = await runJob(finalPlan, storage);
    if (job === undefined) return;
    updateHandoff({ end: job.end });
    // Before the cache is unmounted, as in b2c: what comes after cannot change the status any more.
    log.info(`Execution is over, pipeline status: ${job.status}`);
  } finally {
    await closeStorage(finalPlan, storage);
  }
}

/** The cache and the network block devices; a failure here is reported, the shutdown goes on. */
async function closeStorage(plan: Plan, storage: Storage): Promise<void> {
  try {
    await log.section('unmount_cache_partition', 'Unmount the cache partition', async () => {
      await storage.close();
      if (plan.nbd.length > 0) await (await import('../system/nbd.ts')).detachNbds(plan.nbd, log);
    });
  } catch (error) {
    log.error(`ocinit: cannot close the storage cleanly: ${describeError(error)}`);
  }
}

/** Exit status when the launcher is started anywhere but under the initramfs's /init. */
const EXIT_NOT_UNDER_INIT = 64;

function start(): void {
  // The launcher mounts over /proc, /dev, /sys and /tmp: run by mistake on a workstation, it would
  // do that to the workstation. Under the initramfs its parent is always PID 1 (initrd/init.sh).
  if (process.ppid !== 1) {
    process.stderr.write('ocinit: this is the boot launcher, started by the initramfs /init only; use dist/cli.js (ocinit) on a host\n');
    process.exit(EXIT_NOT_UNDER_INIT);
  }
  process.on('uncaughtException', endOnUncaughtException);
  // Written first, so that PID 1 can tell a launcher that never started from one that failed.
  updateHandoff({});
  // A rejection becomes an uncaught exception, handled just above.
  void main();
}

// initrd/build.ts runs this bundle once with `node --build-snapshot` to write a V8 startup snapshot
// of it: booted from that snapshot, Node starts with the modules above already compiled and
// evaluated, and calls start() (see docs/architecture.md). Anything with effects stays in start().
if (startupSnapshot.isBuildingSnapshot()) {
  for (const id of SNAPSHOT_BUILTINS) process.getBuiltinModule(id);
  startupSnapshot.setDeserializeMainFunction(() => {
    startedFrom = 'snapshot';
    start();
  });
} else start();
