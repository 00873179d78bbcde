import { readFile } from 'node:fs/promises';
import { bootEnvironment } from '../cmdline/boot-env.ts';
import { formatPlan, formatProblem, parseCommandLine } from '../cmdline/index.ts';
import { describeError, OcinitError } from '../log/errors.ts';
import { redact } from '../log/secret.ts';
import type { CliCommand } from './command.ts';

const USAGE = 'usage: ocinit cmdline [--json] [--env NAME=VALUE]... [--file PATH | -- CMDLINE...]   (neither: /proc/cmdline)';
const HELP = `Prints the plan a boot would follow (exit 0), or every problem with its position and a hint (exit 1).

$NAME in container strings expands from the environment the launcher has at boot: the line's own
NAME=VALUE words (the kernel passes them to init), TERM=linux, HOME=/root and init's PATH, then each
--env NAME=VALUE (what a boot loader adds), never from this shell's environment.`;

interface Arguments {
  help: boolean;
  json: boolean;
  file: string | undefined;
  inline: string | undefined;
  /** --env NAME=VALUE, on top of the boot's environment. */
  env: Record<string, string>;
}

function parseArguments(args: string[]): Arguments | string {
  const parsed: Arguments = { help: false, json: false, file: undefined, inline: undefined, env: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') parsed.json = true;
    else if (arg === '--help' || arg === '-h') parsed.help = true;
    else if (arg === '--file') {
      parsed.file = args[++i];
      if (parsed.file === undefined) return '--file needs a PATH';
    } else if (arg?.startsWith('--file=') === true) parsed.file = arg.slice('--file='.length);
    else if (arg === '--env' || arg?.startsWith('--env=') === true) {
      const assignment = arg === '--env' ? args[++i] : arg.slice('--env='.length);
      const equals = assignment?.indexOf('=') ?? -1;
      if (assignment === undefined || equals < 1) return '--env needs NAME=VALUE';
      parsed.env[assignment.slice(0, equals)] = assignment.slice(equals + 1);
    }
    else if (arg === '--') {
      parsed.inline = args.slice(i + 1).join(' ');
      break;
    } else return `unexpected argument '${arg ?? ''}'`;
  }
  if (parsed.file !== undefined && parsed.inline !== undefined) return 'give either --file PATH or -- CMDLINE, not both';
  return parsed;
}

/** JSON drops undefined properties; machines reading the plan get every field, unset ones as null. */
function keepUnsetFields(_key: string, value: unknown): unknown {
  return value === undefined ? null : value;
}

async function readCommandLine(args: Arguments): Promise<string> {
  if (args.inline !== undefined) return args.inline;
  const path = args.file ?? '/proc/cmdline';
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new OcinitError(`cannot read the command line from ${path}: ${(error as Error).message}`, {
      hint: 'pass the line with -- CMDLINE or point --file at a file holding it',
      cause: error,
    });
  }
}

/** Where `ocinit cmdline` writes. */
export interface CmdlineIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** `ocinit cmdline ARGS`: returns the exit code (0 valid, 1 problems, 2 usage or unreadable input). */
export async function runCmdline(argv: string[], io: CmdlineIo): Promise<number> {
  const args = parseArguments(argv);
  if (typeof args === 'string') {
    io.stderr(`ocinit cmdline: ${args}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(`${USAGE}\n\n${HELP}\n`);
    return 0;
  }
  let text: string;
  try {
    text = await readCommandLine(args);
  } catch (error) {
    io.stderr(`ocinit cmdline: ${describeError(error)}\n`);
    return 2;
  }
  const result = parseCommandLine(text, { env: { ...bootEnvironment(text), ...args.env } });
  const valid = result.problems.length === 0;
  if (args.json) {
    const { plan, problems, warnings } = result;
    io.stdout(`${redact(JSON.stringify({ valid, plan, problems, warnings }, keepUnsetFields, 2))}\n`);
    return valid ? 0 : 1;
  }
  const report: string[] = [];
  if (valid) report.push(formatPlan(result.plan));
  for (const warning of result.warnings) report.push(`warning: ${formatProblem(warning)}`);
  for (const problem of result.problems) report.push(`error: ${formatProblem(problem)}`);
  if (!valid) report.push(`${result.problems.length} problem(s): a boot with this command line would run nothing and shut down.`);
  (valid ? io.stdout : io.stderr)(`${redact(report.join('\n'))}\n`);
  return valid ? 0 : 1;
}

/** `ocinit cmdline`: lint a kernel command line and print the plan a boot would follow. */
export const cmdlineCommand: CliCommand = {
  name: 'cmdline',
  summary: 'check a kernel command line and print the plan a boot would follow',
  usage: USAGE,
  run: (argv) =>
    runCmdline(argv, {
      stdout: (text) => void process.stdout.write(text),
      stderr: (text) => void process.stderr.write(text),
    }),
};
