// crun, the OCI runtime that runs every container. Containers run in the foreground with the
// console as their stdio (a real terminal for -t: crun allocates it and relays the console).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { runCommand } from './exec.ts';

export interface CrunOptions {
  binary?: string;
  /** crun's state directory (--root). */
  stateDir?: string;
  /**
   * `--no-pivot`: needed when / is the initramfs (rootfs), which pivot_root(2) refuses; see
   * docs/architecture.md for why this is safe enough here.
   */
  noPivot?: boolean;
  /** Words run before crun (host tests use a private mount namespace with a pure cgroup2 view). */
  prefix?: readonly string[];
  log?: Logger;
}

export interface RunningContainer {
  id: string;
  /** Resolves with the exit code (128 + signal when killed: 129 = reboot(2), 130 = poweroff in a PID namespace). */
  exited: Promise<number>;
  /** Sends a signal to the container's init. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Where a container's stdout and stderr go: the console (attached, as `podman start -a`), a file
 * opened for appending (a detached service), or each line to a callback (a service shown with a prefix).
 */
export type ContainerOutput = { kind: 'console' } | { kind: 'file'; path: string } | { kind: 'lines'; onLine: (line: string) => void };

function outputStdio(output: ContainerOutput): { stdio: 'inherit' | 'pipe' | number; close(): void } {
  if (output.kind === 'console') return { stdio: 'inherit', close: () => undefined };
  if (output.kind === 'lines') return { stdio: 'pipe', close: () => undefined };
  const fd = openSync(output.path, 'a', 0o640);
  return { stdio: fd, close: () => closeSync(fd) };
}

function forwardLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

function globalArgs(options: CrunOptions): string[] {
  return [...(options.prefix ?? []), options.binary ?? 'crun', ...(options.stateDir === undefined ? [] : ['--root', options.stateDir])];
}

/** Starts `crun run` with stdout/stderr to `output` (and the console as stdin unless 'none'); the caller awaits `exited`. */
export function startContainer(id: string, bundleDir: string, options: CrunOptions, stdin: 'console' | 'none' = 'console', output: ContainerOutput = { kind: 'console' }): RunningContainer {
  const argv = [...globalArgs(options), 'run', ...(options.noPivot === true ? ['--no-pivot'] : []), '--bundle', bundleDir, id];
  const [program, ...args] = argv;
  if (program === undefined) throw new OcinitError('internal error: empty crun command');
  options.log?.info(`$ ${argv.join(' ')}`);
  const out = outputStdio(output);
  let child: ChildProcess;
  try {
    child = spawn(program, args, { stdio: [stdin === 'console' ? 'inherit' : 'ignore', out.stdio, out.stdio] });
  } finally {
    out.close(); // the child holds its own copy of a file's descriptor
  }
  if (output.kind === 'lines') {
    forwardLines(child.stdout, output.onLine);
    forwardLines(child.stderr, output.onLine);
  }
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(new OcinitError(`cannot run ${program}: ${error.message}`, { hint: error.code === 'ENOENT' ? 'crun is not in this initramfs or on PATH' : undefined })),
    );
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
  return {
    id,
    exited,
    async kill(signal) {
      await runCommand([...globalArgs(options), 'kill', id, signal]);
    },
  };
}

let warmedUp: Promise<void> | undefined;

/**
 * Runs `crun --version` once, in the background, errors ignored. The boot's first crun process
 * pages crun and its libraries in from the runtime image: in the demo boot under TCG it took
 * 0.3 s more than the next one (0.45 against 0.15 s for a `crun delete`). Asked for when the pull
 * starts, that happens while the images download rather than before the first container's output.
 */
export function warmUpCrun(options: CrunOptions): Promise<void> {
  warmedUp ??= runCommand([...globalArgs(options), '--version']).then(
    () => undefined,
    () => undefined,
  );
  return warmedUp;
}

/** crun's own state directory for root, used without --root. */
const ROOT_STATE_DIR = '/run/crun';

/** Where crun keeps its state of container `id`; undefined when crun would choose (not root, no --root). */
function statePath(id: string, options: CrunOptions): string | undefined {
  const dir = options.stateDir ?? (process.geteuid?.() === 0 ? ROOT_STATE_DIR : undefined);
  return dir === undefined ? undefined : join(dir, id);
}

/**
 * Removes what crun remembers of a container (a stale one, or one whose `crun run` was killed),
 * when it remembers anything. `crun run` in the foreground removes its state when the container
 * exits, so before a first start and after a normal exit there is nothing to delete: looking
 * costs no process, where each `crun delete` was 0.15 to 0.5 s of the demo boot under TCG.
 */
export async function deleteContainer(id: string, options: CrunOptions): Promise<void> {
  const path = statePath(id, options);
  if (path !== undefined && !existsSync(path)) return;
  await runCommand([...globalArgs(options), 'delete', '--force', id]);
}
