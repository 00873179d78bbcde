// The policy built into the initramfs (`make initrd POLICY=policy.json`): its keys are copied next
// to it and its paths rewritten at build time, so at boot it is read as it is.
import { existsSync } from 'node:fs';
import { loadPolicy } from './load.ts';
import { PolicyVerifier } from './verifier.ts';

export const BUILT_IN_POLICY = '/etc/ocinit/policy.json';
/** Where the build copies the keys the policy names. */
export const BUILT_IN_KEYS = '/etc/ocinit/keys';

const loaded = new Map<string, PolicyVerifier | undefined>();

/**
 * The verifier for the built-in policy, read once; undefined when the initramfs has none (every
 * verified image runs, as before). A policy that cannot be read throws, and nothing runs.
 */
export function builtInVerifier(file = BUILT_IN_POLICY): PolicyVerifier | undefined {
  if (!loaded.has(file)) loaded.set(file, existsSync(file) ? new PolicyVerifier(loadPolicy(file)) : undefined);
  return loaded.get(file);
}
