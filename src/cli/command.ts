/** A host CLI subcommand: `ocinit NAME ARGS...`. Returns the process exit code. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}
