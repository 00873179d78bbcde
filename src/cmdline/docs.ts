import { writeFileSync } from 'node:fs';
import { CONTAINER_FLAGS } from './container-flags.ts';
import { PARAMETERS, type ParameterDefinition } from './parameters.ts';
import { HOOK_CONDITIONS } from './storage.ts';
import { FEATURES } from './support.ts';

/** Where the generated reference lives, relative to the repository root. */
export const DOCS_PATH = 'docs/cmdline.md';

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (text: string): string => `\`${text.replaceAll('`', "'")}\``;

function parameterSection(definition: ParameterDefinition): string[] {
  const lines = [`### ${definition.name}`, '', definition.doc, ''];
  if (definition.aliases.length > 0) lines.push(`- Also spelt: ${definition.aliases.map(code).join(', ')}`);
  lines.push(`- Syntax: ${code(`${definition.name}${definition.flag ? '' : '='}${definition.flag ? '' : definition.syntax}`)}${definition.flag ? ' (a bare word)' : ''}`);
  lines.push(`- Default: ${definition.defaultText}`);
  lines.push(`- ${definition.repeatable ? 'Repeatable: every occurrence counts, in order' : 'Single: the last occurrence wins'}`);
  if (definition.stage === 'early') lines.push('- Acts before the network is up: not accepted from `b2c.extra_args_url`');
  lines.push(`- Example: ${code(definition.example)}`);
  if (definition.differences !== undefined) lines.push(`- Differs from boot2container: ${definition.differences}`);
  lines.push('');
  return lines;
}

/** docs/cmdline.md, generated from the parameter and flag tables so that it can't drift from the parser. */
/** The refusals of this build, or a line saying there are none (an empty list reads like a bug). */
function unsupportedFeatureLines(): string[] {
  const lines = Object.values(FEATURES)
    .filter((feature) => !feature.supported)
    .map((feature) => `- ${feature.description[0]?.toUpperCase() ?? ''}${feature.description.slice(1)}: ${feature.uses}.`);
  return lines.length > 0 ? lines : ['- Nothing: this build honours every parameter and option it parses.'];
}

export function renderCommandLineDocs(): string {
  const lines = [
    '# Kernel command line',
    '',
    '<!-- Generated from src/cmdline/parameters.ts and src/cmdline/container-flags.ts by `npx node src/cmdline/docs.ts --write`; test/unit/cmdline/docs.test.ts fails when it is stale. Do not edit by hand. -->',
    '',
    "ocinit reads boot2container's parameters, so a farm's job templates work unchanged. Check a line before it reaches a DUT with `ocinit cmdline [--json] -- 'LINE'` (or `--file PATH`); it prints the plan a boot would follow, or every problem with its token position and a hint.",
    '',
    '## How a line is read',
    '',
    '- Words are separated by blanks (spaces, tabs, newlines) outside double quotes; the quotes are removed wherever they are (`b2c.ntp_peer="10.42.0.1"`). `\\"` is a literal quote, inside or outside quotes.',
    '- `name=value` splits at the first `=`; later `=` belong to the value.',
    '- Single-value parameters keep their last occurrence; repeatable ones accumulate in order.',
    '- Parameters ocinit does not know are ignored (`console=`, `SALAD.machine_id=` ...), except unknown `b2c.*` names, which are reported as warnings with the closest known name (`b2c.pipfail` → `b2c.pipefail`).',
    '- Container strings are read like a POSIX shell would (boot2container `eval`s them): single quotes keep everything literal, double quotes group words, a backslash escapes, and `$NAME` / `${NAME}` expand from the launcher\'s environment (unquoted, the value is split into words on blanks; in double quotes it stays one word). The launcher\'s environment is what the kernel gives init: every `NAME=VALUE` word of the line without a dot in NAME (`CI_JOB_ID=42 b2c.container="... -e JOB=$CI_JOB_ID ..."`), `TERM=linux`, then `HOME=/root`, `PATH` and the launcher\'s memory settings (`MALLOC_ARENA_MAX=1`, `NODE_OPTIONS=--max-semi-space-size=1`) from `/init`. A variable that is not set expands to nothing, with a warning naming it. The words are then read as `podman run` arguments.',
    '- `ocinit cmdline` expands `$NAME` from that same environment, worked out from the line it checks (never from the shell it runs in), plus `--env NAME=VALUE` for what a boot loader adds; it prints the expanded words and the same warnings as the boot.',
    '- Credentials (MinIO keys, `--creds` passwords, `encrypt_key`, `fscrypt_key`) print as `***` in logs, errors and `ocinit cmdline` output.',
    '',
    '## Where ocinit differs from boot2container, and why',
    '',
    '- **Errors stop the boot before anything runs.** Any problem (a bad value, an unsupported container flag, an unclosed quote, a volume mirrored to an undefined MinIO alias) is printed with its token position and a hint, then the machine shuts down with the configured command. boot2container often ignored such mistakes and failed half-way, or silently lost results.',
    '- **An unclosed double quote is an error**: it swallows the rest of the line into one value.',
    '- **Unknown `b2c.*` parameters are warnings**, so a typo is visible.',
    "- **A container volume one typo away from a declared `b2c.volume` is a warning** (`-v job-reslts:/results` next to `b2c.volume=job-results,...` would start empty and never be mirrored).",
    '- **Extra arguments that come too late** (parameters that act before the network is up) are reported instead of silently ignored.',
    '- **Secrets never reach the console.**',
    "- **A container's /etc/hosts always names its hostname** (on 127.0.0.1, with the container's name), with the host network too: podman relies on the host's own file for that, and the initramfs' file does not name the machine. **`/run/.containerenv`** says `engine=\"ocinit-VERSION\"` and `id=\"container-N\"` where podman writes its own version and a 64-hex id; every other podman default a job sees is the same (docs/pipeline.md, \"The container's environment\").",
    '- **Container strings never run anything at the launcher**: `$(...)`, backquotes, `${NAME:-default}` and the shell\'s own parameters (`$1`, `$?`, `$$`) are errors with a hint (single-quote them for the container\'s shell); boot2container\'s `eval` ran or expanded them in its init. Globs (`*.txt`) stay literal instead of matching the initramfs\'s files.',
    '- **Images are pulled and verified before the first container runs** (b2c pulled each when its container started). The outcome stays b2c\'s: a container whose image cannot be pulled or verified fails in its turn with status 1 (docs/pipeline.md).',
    '- **A service that cannot be created does not stop the pipeline**: b2c then skipped every container and post container and still printed status 0; ocinit reports it and runs them.',
    '- **A command line with problems, or a stage before the pipeline that fails** (network, cache device, extra arguments, NBD), prints `ocinit: pipeline not started: STAGE: REASON` and no `Execution is over` line (b2c printed none either, but also no reason); `qemu/run` exits 252 then.',
    '- **No network is configured when nothing needs it** (no container, no `b2c.extra_args_url`, no `b2c.ntp_peer`, no `b2c.iface`/`ip=`): b2c always connected, and shut down when it could not, even with nothing to run.',
    '- **Sections**: b2c\'s names (`runtime_info`, `load_modules`, `mount_cache_partition`, `connect`, `ntp_set`, `parse_extra_cmdline`, `start_pipeline` for the pull phase, `start_service_container`, `execute_hooks`, `create_container`, `container_run` uncollapsed, `b2c_post_container`, `cleanup`, `unmount_cache_partition`); ocinit\'s own phases keep `ocinit_` names (`ocinit_nbd`, `ocinit_switch_root`). b2c switched from one section to the next; ocinit opens and closes each, and its errors stay inside the section they happened in.',
    '- **`Boot2container version: ocinit VERSION`**: the banner line is there, with ocinit\'s version, never a b2c number a farm could compare.',
    '- **`Execution is over` comes after the clean-up** (services stopped, `pipeline_end` hooks run, volumes unmounted) and after the `ocinit-summary:` line; b2c printed it before its clean-up. As in b2c, the cache device is unmounted after it.',
    '- **Services\' output** goes to `/run/ocinit/services/service-N.log` (b2c discarded it into podman\'s logs); `b2c.service_output=console` shows it with a `[service-N] ` prefix.',
    '',
    '## Not supported yet',
    '',
    "These parse, but this ocinit cannot honour them yet, so `ocinit cmdline` and the boot refuse them with the same error (src/cmdline/support.ts) instead of accepting and ignoring them:",
    '',
    ...unsupportedFeatureLines(),
    '',
    '## Parameters',
    '',
    '| Parameter | Aliases | Value | Default | Repeatable |',
    '|---|---|---|---|---|',
    ...PARAMETERS.map(
      (definition) =>
        `| ${code(definition.name)} | ${definition.aliases.map(code).join(', ')} | ${cell(code(definition.flag ? '(flag)' : definition.syntax))} | ${cell(definition.defaultText)} | ${definition.repeatable ? 'yes' : 'no'} |`,
    ),
    '',
    ...PARAMETERS.flatMap(parameterSection),
    '## Volume hook conditions',
    '',
    `${HOOK_CONDITIONS.map(code).join(', ')}: when to pull (\`pull_on\`) or push (\`push_on\`) a mirrored volume, separated by \`|\`. \`changes\` means: push whenever the content changes, and once more at the end of the pipeline; other conditions given with it are ignored (boot2container's semantics, reported as a warning).`,
    '',
    '## Container flags',
    '',
    'Container values (`b2c.container`, `b2c.run`, `b2c.service`, `b2c.run_service`, `b2c.post_container`) are `[FLAGS] [docker://]IMAGE [COMMAND [ARG...]]`. Flags come before the image; both `--flag=value` and `--flag value` work, short flags combine (`-ti`), and boolean flags take `=true|false`. Every container is privileged, on the host network, removed at exit and pulled every time unless its flags say otherwise (boot2container\'s defaults). **A flag not listed here is an error naming the flag and the container**: a silently ignored `-v` would lose a job\'s results.',
    '',
    '| Flag | Value | Meaning |',
    '|---|---|---|',
    ...CONTAINER_FLAGS.map((flag) => `| ${flag.names.map(code).join(', ')} | ${cell(code(flag.syntax))} | ${cell(flag.doc)} |`),
    '',
  ];
  return lines.join('\n');
}

if (import.meta.main && process.argv.includes('--write')) {
  writeFileSync(DOCS_PATH, renderCommandLineDocs());
  process.stdout.write(`wrote ${DOCS_PATH}\n`);
}
