import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_SYMLINKS = 40;

/**
 * Resolves `path` as the container would see it with `root` as `/`: symlinks (absolute or relative)
 * and `..` are followed inside the root and can never lead out of it, whatever the image holds.
 * Returns the host path; the last component need not exist.
 */
export function resolveInRoot(root: string, path: string): string {
  const pending = path.split('/').filter((part) => part !== '' && part !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() ?? '';
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = join(root, ...resolved, part);
    const info = lstatSync(hostPath, { throwIfNoEntry: false });
    if (info?.isSymbolicLink() === true) {
      if (++links > MAX_SYMLINKS) throw new Error(`too many symbolic links resolving ${path}`);
      const target = readlinkSync(hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((item) => item !== '' && item !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/** A regular file of the image, read safely; undefined when missing or not a regular file. */
export function readFileInRoot(root: string, path: string, maxBytes = 4 * 1024 * 1024): string | undefined {
  let hostPath: string;
  try {
    hostPath = resolveInRoot(root, path);
  } catch {
    return undefined;
  }
  const info = lstatSync(hostPath, { throwIfNoEntry: false });
  if (info === undefined || !info.isFile() || info.size > maxBytes) return undefined;
  return readFileSync(hostPath, 'utf8');
}
