export * from './plan.ts';
export { parseCommandLine, mergeExtraArgs } from './parse.ts';
export { formatProblem, formatPlan } from './format.ts';
export { PARAMETERS, createDefaultPlan, type ParameterDefinition } from './parameters.ts';
export { CONTAINER_FLAGS, type ContainerFlag } from './container-flags.ts';
export { containerLabel } from './container.ts';
