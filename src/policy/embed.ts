// `make initrd POLICY=policy.json`: the policy as it goes into the initramfs, every key file it
// names copied under /etc/ocinit/keys and its path rewritten. Checked whole first (keys included),
// so a policy that would be refused at boot fails the build instead.
import { basename } from 'node:path/posix';
import { parsePolicy } from './document.ts';
import { BUILT_IN_KEYS } from './built-in.ts';
import { keyPathOf, resolveKeys } from './load.ts';

export interface EmbeddedPolicy {
  /** The policy.json to write at /etc/ocinit/policy.json. */
  text: string;
  /** Each key file to copy: from the host path to its path in the initramfs. */
  keys: { source: string; path: string }[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The policy in `text` (read from `policyFile`) with its key paths pointing into the initramfs. */
export function embedPolicy(text: string, policyFile: string): EmbeddedPolicy {
  resolveKeys(parsePolicy(text, policyFile), policyFile);
  const document = JSON.parse(text) as Json;
  const keys = new Map<string, string>();
  const place = (path: string): string => {
    const source = keyPathOf(policyFile, path);
    let target = keys.get(source);
    if (target === undefined) {
      target = `${BUILT_IN_KEYS}/${keys.size + 1}-${basename(source)}`;
      keys.set(source, target);
    }
    return target;
  };
  const rewrite = (requirements: unknown): void => {
    if (!Array.isArray(requirements)) return;
    for (const requirement of requirements) {
      if (!isObject(requirement) || requirement.type !== 'sigstoreSigned') continue;
      if (typeof requirement.keyPath === 'string') requirement.keyPath = place(requirement.keyPath);
      if (Array.isArray(requirement.keyPaths)) requirement.keyPaths = requirement.keyPaths.map((path) => (typeof path === 'string' ? place(path) : path));
    }
  };
  rewrite(document.default);
  if (isObject(document.transports)) for (const scopes of Object.values(document.transports)) if (isObject(scopes)) for (const requirements of Object.values(scopes)) rewrite(requirements);
  return { text: `${JSON.stringify(document, null, 2)}\n`, keys: [...keys].map(([source, path]) => ({ source, path })) };
}
