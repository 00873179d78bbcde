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
import { OCINIT_VERSION } from '../version.ts';
import type { HardwareDrivers } from './drivers.ts';
import { writeHandoff, type Handoff } from './handoff.ts';
import { storageAfterNetwork } from './order.ts';

/** Pipeline status when ocinit itself could not run the job (bad command line, failed pull): podman's 125. */
const STATUS_OCINIT_FAILED = 125;

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

function triggerDebugCrash(plan: Plan): void {
  if (plan.debugCrash === 'exception') {
    setImmediate(() => {
      throw new Error('b2c.debug_crash=exception: simulated launcher bug');
    });
  } else if (plan.debugCrash === 'kill') {
    log.warn('b2c.debug_crash=kill: the launcher now kills itself with SIGKILL');
    process.kill(process.pid, 'SIGKILL');
  }
}

/** How Node started the launcher: from the startup snapshot /init.snapshot, or by compiling /init.js. */
let startedFrom: 'snapshot' | 'script' = 'script';

/** The watch for late devices, running from the driver loading until the storage and network are up. */
let driverWatch: HardwareDrivers | undefined;

/** Runtime info, modules, drivers; the storage too unless it waits for the network (b2c.nbd). */
async function prepareMachine(plan: Plan, withStorage: boolean): Promise<Storage | undefined> {
  return log.section('ocinit_boot', 'Preparing the machine', async () => {
    const [{ runtimeInfo }, { loadHardwareDrivers, loadRequestedModules }] = await Promise.all([import('./runtime-info.ts'), import('./drivers.ts')]);
    for (const line of runtimeInfo()) log.info(line);
    log.info(`Launcher: Node ${process.version}, ${startedFrom === 'snapshot' ? 'from its startup snapshot' : 'from /init.js'}`);
    writeFileSync('/proc/sys/kernel/hostname', plan.hostname);
    await loadRequestedModules(plan.modules, log);
    // Late devices (USB NICs and disks) are watched for while the cache and the network wait for them.
    const drivers = await loadHardwareDrivers(log, (plan.cache.waitSeconds + plan.dhcpTimeoutSeconds) * 1000);
    driverWatch = drivers;
    log.info(`Drivers loaded for the hardware present: ${drivers.loaded.length > 0 ? drivers.loaded.join(' ') : 'none needed'}`);
    if (!withStorage) {
      log.info('The cache or swap may be on a network block device (b2c.nbd): opening the storage once the network is up');
      return undefined;
    }
    const { openStorage } = await import('../cache/index.ts');
    return openStorage(plan, log);
  });
}

/** b2c.nbd devices, then (when it waited for them) the storage. */
async function attachNetworkStorage(plan: Plan, storage: Storage | undefined): Promise<Storage> {
  return log.section('ocinit_nbd', 'Attaching network block devices', async () => {
    const { attachNbds } = await import('../system/nbd.ts');
    await attachNbds(plan.nbd, log);
    if (storage !== undefined) return storage;
    const { openStorage } = await import('../cache/index.ts');
    return openStorage(plan, log);
  });
}

/** Whether anything in the plan talks to the network; a job with nothing to fetch boots without one. */
function needsNetwork(plan: Plan): boolean {
  const containers = plan.services.length + plan.containers.length + plan.postContainers.length;
  return containers > 0 || plan.nbd.length > 0 || plan.switchRoot !== undefined || plan.extraArgsUrl !== undefined || plan.ntpPeer.kind !== 'none' || plan.interfaces.length > 0 || (plan.ip !== undefined && plan.ip.kind !== 'off');
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
  const { bringUpNetwork, fetchExtraArgs, syncClock } = await import('../net/index.ts');
  // Evaluating the job's modules takes a few tenths of a second on a slow CPU: asked for now, it
  // happens while the network phase waits for links and DHCP. A failure shows where it is awaited.
  loadJobModule().catch(() => undefined);
  await bringUpNetwork(plan, { log, timeoutMs: plan.dhcpTimeoutSeconds * 1000 });
  await syncClock(plan, log);
  if (plan.extraArgsUrl === undefined) return plan;
  const text = await fetchExtraArgs(plan.extraArgsUrl, { log, proxy: plan.proxy });
  const merged = mergeExtraArgs(plan, text, { env: process.env });
  for (const warning of merged.warnings) log.warn(`warning (extra arguments): ${formatProblem(warning)}`);
  for (const late of merged.tooLate) log.warn(`ignored (extra arguments): ${formatProblem(late)}`);
  if (merged.problems.length > 0) {
    for (const problem of merged.problems) log.error(formatProblem(problem));
    throw new OcinitError(`the extra arguments from b2c.extra_args_url have ${merged.problems.length} problem(s); nothing will run`, {
      parameter: 'b2c.extra_args_url',
      hint: 'check them with: ocinit cmdline --file FILE',
    });
  }
  if (merged.plan.hostname !== plan.hostname) writeFileSync('/proc/sys/kernel/hostname', merged.plan.hostname);
  updateHandoff({ shutdown: merged.plan.shutdown });
  return merged.plan;
}

/** Runs the job: the pipeline status, and how to end (a container's reboot request, b2c.switch_root). */
async function runJob(plan: Plan, storage: Storage): Promise<JobResult> {
  const jobs = plan.services.length + plan.containers.length + plan.postContainers.length + (plan.switchRoot === undefined ? 0 : 1);
  if (jobs === 0) {
    log.info('No containers requested: nothing to run');
    return { status: 0, end: { action: 'poweroff' } };
  }
  const { runJob: runContainers } = await loadJobModule();
  return runContainers(plan, storage, log);
}

async function main(): Promise<void> {
  log.info(`ocinit ${OCINIT_VERSION}: launcher started`);
  const { mountPseudoFilesystems } = await import('./mounts.ts');
  await mountPseudoFilesystems();
  const commandLine = readFileSync('/proc/cmdline', 'utf8').trim();
  const { plan, problems, warnings } = parseCommandLine(commandLine, { env: process.env });
  updateHandoff({ shutdown: plan.shutdown });
  for (const warning of warnings) log.warn(`warning: ${formatProblem(warning)}`);

  let status: number;
  if (problems.length > 0) {
    log.error(`The kernel command line has ${problems.length} problem(s); nothing will run:`);
    for (const problem of problems) log.error(formatProblem(problem));
    status = STATUS_OCINIT_FAILED;
  } else {
    triggerDebugCrash(plan);
    try {
      let finalPlan: Plan;
      let storage: Storage;
      try {
        const early = await prepareMachine(plan, !storageAfterNetwork(plan));
        finalPlan = await connect(plan);
        storage = finalPlan.nbd.length > 0 || early === undefined ? await attachNetworkStorage(finalPlan, early) : early;
      } finally {
        await driverWatch?.stopWatching();
      }
      try {
        const job = await runJob(finalPlan, storage);
        status = job.status;
        updateHandoff({ end: job.end });
      } finally {
        await storage.close();
        if (finalPlan.nbd.length > 0) await (await import('../system/nbd.ts')).detachNbds(finalPlan.nbd, log);
      }
    } catch (error) {
      log.error(describeError(error));
      status = STATUS_OCINIT_FAILED;
    }
  }
  log.info(`Execution is over, pipeline status: ${status}`);
  updateHandoff({ final: true });
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
  startupSnapshot.setDeserializeMainFunction(() => {
    startedFrom = 'snapshot';
    start();
  });
} else start();
