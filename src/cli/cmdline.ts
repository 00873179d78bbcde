import { readFile } from 'node:fs/promises';
import { formatPlan, formatProblem, parseCommandLine } from '../cmdline/index.ts';
import { describeError, OcinitError } from '../log/errors.ts';
import { redact } from '../log/secret.ts';
import type { CliCommand } from './command.ts';

const USAGE = 'usage: ocinit cmdline [--json] [--file PATH | -- CMDLINE...]   (neither: /proc/cmdline)';

interface Arguments {
  help: boolean;
  json: boolean;
  file: string | undefined;
  inline: string | undefined;
}

function parseArguments(args: string[]): Arguments | string {
  const parsed: Arguments = { help: false, json: false, file: undefined, inline: undefined };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') parsed.json = true;
    else if (arg === '--help' || arg === '-h') parsed.help = true;
    else if (arg === '--file') {
      parsed.file = args[++i];
      if (parsed.file === undefined) return '--file needs a PATH';
    } else if (arg?.startsWith('--file=') === true) parsed.file = arg.slice('--file='.length);
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

/** `ocinit cmdline`: lint a kernel command line and print the plan a boot would follow. */
export const cmdlineCommand: CliCommand = {
  name: 'cmdline',
  summary: 'check a kernel command line and print the plan a boot would follow',
  usage: USAGE,
  async run(argv) {
    const args = parseArguments(argv);
    if (typeof args === 'string') {
      process.stderr.write(`ocinit cmdline: ${args}\n${USAGE}\n`);
      return 2;
    }
    if (args.help) {
      process.stdout.write(`${USAGE}\n\nPrints the plan a boot would follow (exit 0), or every problem with its position and a hint (exit 1).\n`);
      return 0;
    }
    let text: string;
    try {
      text = await readCommandLine(args);
    } catch (error) {
      process.stderr.write(`ocinit cmdline: ${describeError(error)}\n`);
      return 2;
    }
    const result = parseCommandLine(text, { env: process.env });
    const valid = result.problems.length === 0;
    if (args.json) {
      const { plan, problems, warnings } = result;
      process.stdout.write(`${redact(JSON.stringify({ valid, plan, problems, warnings }, keepUnsetFields, 2))}\n`);
      return valid ? 0 : 1;
    }
    const report: string[] = [];
    if (valid) report.push(formatPlan(result.plan));
    for (const warning of result.warnings) report.push(`warning: ${formatProblem(warning)}`);
    for (const problem of result.problems) report.push(`error: ${formatProblem(problem)}`);
    if (!valid) report.push(`${result.problems.length} problem(s): a boot with this command line would run nothing and shut down.`);
    (valid ? process.stdout : process.stderr).write(`${redact(report.join('\n'))}\n`);
    return valid ? 0 : 1;
  },
};
