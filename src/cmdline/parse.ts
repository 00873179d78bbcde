import { createDefaultPlan, findParameter, parameterNames } from './parameters.ts';
import type { MergeResult, ParseOptions, ParseResult, Plan, Problem } from './plan.ts';
import { tokenizeCommandLine } from './tokenize.ts';
import { checkReferences, checkVolumeTypos, rememberPositions } from './references.ts';
import { refuseUnsupported } from './support.ts';
import { didYouMean, type ValueContext } from './values.ts';

interface Collected {
  problems: Problem[];
  warnings: Problem[];
  tooLate: Problem[];
}

/**
 * Reads a kernel command line into a Plan. Never throws: whatever is wrong is listed in
 * `problems` (the boot must then run nothing) or `warnings`, and the plan keeps defaults there.
 */
export function parseCommandLine(text: string, options: ParseOptions = {}): ParseResult {
  const plan = createDefaultPlan();
  const collected = applyLine(plan, text, options, 'cmdline');
  // Names defined in the extra arguments can't be checked before they are merged.
  checkReferences(plan, plan.extraArgsUrl === undefined ? collected.problems : collected.warnings, plan.extraArgsUrl !== undefined);
  checkVolumeTypos(plan, collected.warnings);
  return { plan, problems: collected.problems, warnings: collected.warnings };
}

/**
 * Applies a second command line (from b2c.extra_args_url) on top of `plan`, with the same rules:
 * single-value parameters override, repeatable ones append. Parameters that acted before the
 * network came up are listed in `tooLate` and not applied. `plan` itself is left unchanged.
 */
export function mergeExtraArgs(plan: Plan, text: string, options: ParseOptions = {}): MergeResult {
  const merged = copyPlan(plan);
  const collected = applyLine(merged, text, options, 'extra_args');
  checkReferences(merged, collected.problems, false);
  checkVolumeTypos(merged, collected.warnings);
  return { plan: merged, ...collected };
}

function applyLine(plan: Plan, text: string, options: ParseOptions, origin: 'cmdline' | 'extra_args'): Collected {
  const env = options.env ?? process.env;
  const collected: Collected = { problems: [], warnings: [], tooLate: [] };
  const where = origin === 'extra_args' ? { origin } : {};
  const { tokens, unterminated } = tokenizeCommandLine(text);

  for (const position of unterminated) {
    collected.problems.push({
      parameter: shorten(tokens[position]?.key ?? '', 100),
      position,
      message: 'this double quote is never closed, so the rest of the line became part of this value',
      hint: 'close the quote; write \\" for a literal quote inside a quoted value',
      ...where,
    });
  }

  // Single-value parameters: only the last occurrence counts, as in boot2container.
  const lastPosition = new Map<string, number>();
  for (const token of tokens) {
    const definition = findParameter(token.key);
    if (definition !== undefined && !definition.repeatable) lastPosition.set(definition.name, token.position);
  }

  for (const token of tokens) {
    const definition = findParameter(token.key);
    if (definition === undefined) {
      if (token.key.startsWith('b2c.')) {
        collected.warnings.push({
          parameter: shorten(token.key, 100),
          position: token.position,
          message: shorten(`unknown parameter '${token.key}' ignored`),
          hint: didYouMean(token.key, parameterNames()) ?? 'see docs/cmdline.md for the parameters ocinit knows',
          ...where,
        });
      }
      continue;
    }
    if (!definition.repeatable && lastPosition.get(definition.name) !== token.position) continue;

    // Problems name the parameter as written (an alias such as b2c.run), so the operator finds it.
    const report = (list: Problem[]) => (message: string, hint?: string) =>
      list.push({
        parameter: token.key,
        position: token.position,
        message: shorten(message),
        ...(hint === undefined ? {} : { hint }),
        ...where,
      });
    if (origin === 'extra_args' && definition.stage === 'early') {
      report(collected.tooLate)(
        `${token.key} in the extra arguments comes too late: it acts before the network is up`,
        `move ${token.key} to the kernel command line`,
      );
      continue;
    }
    if (token.value === undefined && !definition.flag) {
      report(collected.problems)(`${token.key} needs a value`, `e.g. ${definition.example}`);
      continue;
    }
    const context: ValueContext = {
      parameter: definition.name,
      position: token.position,
      env,
      problem: report(collected.problems),
      warning: report(collected.warnings),
    };
    definition.apply(plan, token.value, context);
    refuseUnsupported(definition.name, token.value ?? '', context, options.features);
    rememberPositions(plan, token.position, origin);
  }
  return collected;
}

// Messages quote the values they reject; a runaway value must not flood the console.
const MAX_MESSAGE_LENGTH = 500;

function shorten(text: string, limit = MAX_MESSAGE_LENGTH): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}

/**
 * Copies every list that parameters append to, so applying a line to the copy leaves `plan` alone.
 * Values that parameters replace as a whole (cacheDevice, additionalImageStores...) are shared.
 */
function copyPlan(plan: Plan): Plan {
  return {
    ...plan,
    containers: [...plan.containers],
    services: [...plan.services],
    postContainers: [...plan.postContainers],
    shutdown: { ...plan.shutdown },
    modules: [...plan.modules],
    interfaces: [...plan.interfaces],
    volumes: [...plan.volumes],
    filesystems: [...plan.filesystems],
    minio: [...plan.minio],
    nbd: [...plan.nbd],
  };
}
