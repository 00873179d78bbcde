import { pullAndUnpack, type PulledImage, type PullOptions } from '../../src/oci/index.ts';
import type { PolicyVerifier } from '../../src/policy/verifier.ts';
import { parseReference } from '../../src/reference/reference.ts';
import { ContentStore } from '../../src/store/index.ts';

export interface PolicyPull {
  pulled: PulledImage | undefined;
  target: string;
  store: ContentStore;
  error: unknown;
}

/** Pulls `reference` into a fresh store and target under `verifier`, returning the refusal instead of throwing it. */
export async function pullWithPolicy(reference: string, verifier: PolicyVerifier, dirs: { store: string; target: string }, extra: Partial<PullOptions> = {}): Promise<PolicyPull> {
  const store = new ContentStore(dirs.store);
  const options: PullOptions = { store, tlsVerify: false, verifier, ...extra };
  try {
    const pulled = await pullAndUnpack(parseReference(reference), dirs.target, options);
    return { pulled, target: dirs.target, store, error: undefined };
  } catch (error) {
    return { pulled: undefined, target: dirs.target, store, error };
  }
}
