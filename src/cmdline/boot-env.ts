// The environment the launcher has at boot, worked out from a command line on the host, so that
// `ocinit cmdline` expands `$VAR` in container strings exactly as the boot will.
import type { ShellEnvironment } from './shell-words.ts';
import { tokenizeCommandLine } from './tokenize.ts';

/**
 * What initrd/init.sh exports for the launcher's memory (one line there): glibc's malloc in one arena
 * and a young generation of 1 MiB semi-spaces took a 500 MB S3 pull's peak RSS from ~120 to ~88 MB
 * and a registry pull's from ~125 to ~108 MB, at the same CPU time (docs/performance.md, "S3
 * volumes"). bench/volumes starts its mirror process with these too.
 */
export const LAUNCHER_ENVIRONMENT = {
  MALLOC_ARENA_MAX: '1',
  NODE_OPTIONS: '--max-semi-space-size=1',
} as const satisfies ShellEnvironment;

/** What the kernel gives init (init/main.c envp_init) and what initrd/init.sh then exports. */
export const INIT_ENVIRONMENT: ShellEnvironment = {
  TERM: 'linux',
  HOME: '/root',
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ...LAUNCHER_ENVIRONMENT,
};

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The kernel hands init every `NAME=VALUE` word it does not know as an environment variable (a
 * name with a dot is a module parameter and is dropped; words after `--` are init's arguments);
 * init.sh's exports come after. Approximation: the kernel's own parameters (`console=`, `root=`)
 * are not passed to init, but are listed here too; no job names them.
 */
export function bootEnvironment(commandLine: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { TERM: INIT_ENVIRONMENT.TERM };
  for (const token of tokenizeCommandLine(commandLine).tokens) {
    if (token.key === '--' && token.value === undefined) break;
    if (token.value !== undefined && VARIABLE.test(token.key)) env[token.key] = token.value;
  }
  return { ...env, HOME: INIT_ENVIRONMENT.HOME, PATH: INIT_ENVIRONMENT.PATH, ...LAUNCHER_ENVIRONMENT };
}
