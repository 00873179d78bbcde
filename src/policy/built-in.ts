// The policy built into the initramfs (`make initrd POLICY=policy.json`): its keys are copied next
// to it and its paths rewritten at build time, so at boot it is read as it is.
import { existsSync } from 'node:fs';
import type { ImageVerifier } from '../oci/pull.ts';
import { loadPolicy, type LoadedPolicy } from './load.ts';
import { PolicyVerifier, RefuseAllVerifier, type VerifierSettings } from './verifier.ts';

export const BUILT_IN_POLICY = '/etc/ocinit/policy.json';
/** Where the build copies the keys the policy names. */
export const BUILT_IN_KEYS = '/etc/ocinit/keys';

const loaded = new Map<string, LoadedPolicy | undefined>();

/**
 * The verifier for the built-in policy (read once), narrowed by b2c.signatures; undefined when the
 * initramfs has none and nothing is required (every verified image runs, as before). A policy that
 * cannot be read throws, and nothing runs.
 */
export function builtInVerifier(settings: VerifierSettings = {}, file = BUILT_IN_POLICY): ImageVerifier | undefined {
  if (!loaded.has(file)) loaded.set(file, existsSync(file) ? loadPolicy(file) : undefined);
  const policy = loaded.get(file);
  if (policy === undefined) return settings.requireSignatures === true ? new RefuseAllVerifier() : undefined;
  return new PolicyVerifier(policy, settings);
}
