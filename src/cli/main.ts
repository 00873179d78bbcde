import { describeError } from '../log/errors.ts';
import { cmdlineCommand } from './cmdline.ts';
import type { CliCommand } from './command.ts';
import { inspectCommand } from './inspect.ts';
import { pullCommand } from './pull.ts';
import { signCommand } from './sign.ts';
import { verifyCommand } from './verify.ts';
import { verityCommand } from './verity.ts';

// Each subcommand lives in its own module; add it here.
const commands: CliCommand[] = [cmdlineCommand, pullCommand, inspectCommand, verifyCommand, signCommand, verityCommand];

function usage(): string {
  const lines = ['usage: ocinit COMMAND [ARGS...]', '', 'commands:'];
  for (const command of commands) lines.push(`  ${command.name.padEnd(10)} ${command.summary}`);
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(`ocinit: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ocinit: ${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
