import { parseContainer } from '../../../src/cmdline/container.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import type { ContainerSpec, ParseResult, Problem } from '../../../src/cmdline/plan.ts';
import { FEATURES, type Feature, type FeatureId } from '../../../src/cmdline/support.ts';
import type { ValueContext } from '../../../src/cmdline/values.ts';

/** Every feature as if this build had it: for tests of the syntax, apart from what the build refuses. */
export const ALL_FEATURES = Object.fromEntries(Object.entries(FEATURES).map(([id, feature]) => [id, { ...feature, supported: true }])) as Record<FeatureId, Feature>;

export interface Collected {
  problems: Problem[];
  warnings: Problem[];
  context: ValueContext;
}

/** A ValueContext that records what a value parser reports. */
export function collectingContext(env: Record<string, string | undefined> = {}): Collected {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const context: ValueContext = {
    parameter: 'test',
    position: 0,
    env,
    problem: (message, hint) => problems.push({ parameter: 'test', position: 0, message, ...(hint === undefined ? {} : { hint }) }),
    warning: (message, hint) => warnings.push({ parameter: 'test', position: 0, message, ...(hint === undefined ? {} : { hint }) }),
  };
  return { problems, warnings, context };
}

/** Parses one container string; fails the test with the problems if it is rejected. */
export function container(text: string, env: Record<string, string | undefined> = {}): ContainerSpec {
  const { problems, context } = collectingContext(env);
  const spec = parseContainer(text, 'b2c.container', 1, context);
  if (spec === undefined) throw new Error(`rejected: ${problems.map((problem) => problem.message).join('; ')}`);
  return spec;
}

/** The problems a rejected container string gets (and checks that it is rejected). */
export function containerProblems(text: string, env: Record<string, string | undefined> = {}): string[] {
  const { problems, context } = collectingContext(env);
  const spec = parseContainer(text, 'b2c.container', 1, context);
  if (spec !== undefined) throw new Error(`accepted: ${text}`);
  return problems.map((problem) => problem.message);
}

/** Parses a line that must be valid (no problems) with an empty environment. */
export function valid(line: string, env: Record<string, string | undefined> = {}): ParseResult {
  const result = parseCommandLine(line, { env, features: ALL_FEATURES });
  if (result.problems.length > 0) throw new Error(`problems: ${JSON.stringify(result.problems, null, 1)}`);
  return result;
}

/** The problems of a line that must be invalid. */
export function invalid(line: string, env: Record<string, string | undefined> = {}): Problem[] {
  const result = parseCommandLine(line, { env, features: ALL_FEATURES });
  if (result.problems.length === 0) throw new Error(`no problem found in: ${line}`);
  return result.problems;
}
