import { spawn, type StdioOptions } from 'node:child_process';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { constants } from 'node:os';

export interface CommandResult {
  /** Exit code, or 128 + signal number when the command was killed by a signal. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Logged before running (the command line, never secrets: pass them through env or stdin). */
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long; the result then says so in `stderr`. */
  timeoutMs?: number;
  /** `inherit` lets the command write straight to the console (containers); default captures. */
  stdio?: 'capture' | 'inherit';
  signal?: AbortSignal;
}

/**
 * Runs a command and waits for it. Never throws for a non-zero exit: the caller decides what a
 * failure means. Throws OcinitError only when the command cannot be started at all.
 */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) return Promise.reject(new OcinitError('internal error: empty command'));
  options.log?.info(`$ ${argv.join(' ')}`);
  const stdio: StdioOptions = options.stdio === 'inherit' ? ['inherit', 'inherit', 'inherit'] : ['pipe', 'pipe', 'pipe'];
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: options.env ?? process.env, cwd: options.cwd, stdio, signal: options.signal });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    if (child.stdin !== null) {
      // A command that exits before reading its stdin (ip, udhcpc) makes this write fail with EPIPE:
      // without a listener that error would crash the launcher, i.e. PID 1's child.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    }
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.name === 'AbortError') return; // 'close' still follows with the signal
      reject(
        new OcinitError(`cannot run ${program}: ${error.message}`, {
          hint: error.code === 'ENOENT' ? `${program} is not in this initramfs or on PATH` : undefined,
          cause: error,
        }),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(killed after ${options.timeoutMs} ms)`;
      resolve({ code: code ?? 128 + (signal === null ? 0 : constants.signals[signal]), signal, stdout, stderr });
    });
  });
}

/** Runs a command that must succeed; a failure becomes an OcinitError quoting its stderr. */
export async function runChecked(argv: readonly string[], options: RunOptions & { what?: string; hint?: string } = {}): Promise<CommandResult> {
  const result = await runCommand(argv, options);
  if (result.code !== 0) {
    const detail = result.stderr.trim() || result.stdout.trim();
    throw new OcinitError(`${options.what ?? argv.join(' ')} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`, {
      hint: options.hint,
    });
  }
  return result;
}
