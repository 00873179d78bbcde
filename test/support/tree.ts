// Describes a directory tree for comparisons between unpackers (ocinit, umoci, overlayfs mounts).
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Everything observable about a tree, one line per path: type, mode, owner, mtime (not for
 * directories, which creating their children changes), link target, content hash, hardlink group,
 * device number.
 */
export function describeTree(root: string): Map<string, string> {
  const entries = new Map<string, string>();
  const firstPathOfInode = new Map<number, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat: Stats = lstatSync(path);
      const rel = relative(root, path);
      let detail = '';
      if (stat.isSymbolicLink()) detail = `-> ${readlinkSync(path)}`;
      else if (stat.isFile()) {
        detail = createHash('sha256').update(readFileSync(path)).digest('hex');
        if (stat.nlink > 1) {
          const first = firstPathOfInode.get(stat.ino) ?? rel;
          firstPathOfInode.set(stat.ino, first);
          detail += ` link-group ${first}`;
        }
      } else if (stat.isCharacterDevice() || stat.isBlockDevice()) detail = `rdev ${stat.rdev}`;
      const type = stat.isDirectory() ? 'd' : stat.isSymbolicLink() ? 'l' : stat.isFile() ? 'f' : stat.isFIFO() ? 'p' : stat.isCharacterDevice() ? 'c' : 'b';
      const mtime = stat.isDirectory() ? '' : ` mtime ${Math.floor(stat.mtimeMs / 1000)}`;
      entries.set(rel, `${type} ${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid}${mtime} ${detail}`);
      if (stat.isDirectory()) walk(path);
    }
  };
  walk(root);
  return entries;
}

