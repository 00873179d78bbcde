import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage, unpackImage } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

const run = promisify(execFile);
let registry: TestRegistry;
let work: string;

/** Everything observable about a tree, one line per entry (hardlinks grouped by first path). */
function describeTree(root: string): Map<string, string> {
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

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-umoci-'));
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('compared with umoci', () => {
  it('unpacks an image built by umoci from a real filesystem exactly as umoci unpack does', async () => {
    const layout = join(work, 'layout');
    const bundle = join(work, 'bundle');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:base`]);
    await run('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    // Layer 1: a real tree from this machine plus every special case.
    const script = [
      'set -e',
      `cd ${rootfs}`,
      'mkdir -p usr/share etc srv/data',
      'cp -a /usr/share/zoneinfo usr/share/',
      'cp -a /usr/bin/ls /usr/bin/cat usr/',
      'echo "lab" > etc/hostname',
      'printf "#!/bin/sh\\necho hi\\n" > srv/suid && chmod 4755 srv/suid && chown 1000:1000 srv/suid',
      'cp srv/suid srv/sgid && chmod 2711 srv/sgid',
      'ln srv/suid srv/suid-hardlink',
      'ln -s ../usr/share/zoneinfo/UTC etc/localtime',
      'ln -s /absolute/dangling srv/dangling',
      'mkdir -m 1777 srv/tmp',
      'mkfifo -m 600 srv/fifo',
      'mknod -m 660 srv/null c 1 3',
      'mkdir -p srv/replaced/inner && echo old > srv/replaced/inner/file',
      'echo doomed > srv/data/doomed',
      'setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 usr/ls',
      'chown -h 33:33 srv/data srv/dangling',
    ].join('\n');
    await run('sh', ['-c', script]);
    await run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:base`, bundle]);
    // Layer 2: deletions (whiteouts), a replaced directory, changed content and modes.
    const script2 = [
      'set -e',
      `cd ${rootfs}`,
      'rm -rf usr/share/zoneinfo/Europe srv/data/doomed usr/cat',
      'rm -rf srv/replaced && mkdir srv/replaced && echo new > srv/replaced/file',
      'echo "lab-2" > etc/hostname && chmod 600 etc/hostname',
      'rm srv/suid-hardlink',
      'chmod 700 srv/tmp',
    ].join('\n');
    await run('sh', ['-c', script2]);
    await run('umoci', ['repack', '--image', `${layout}:base`, bundle]);

    const reference = await pushLayout(layout, 'base', registry, { name: 'umoci/rootfs' });
    const store = new ContentStore(join(work, 'store'));
    const pulled = await pullImage(reference, { store, tlsVerify: false });
    expect(pulled.layers).toHaveLength(2);
    const ours = join(work, 'ours');
    await unpackImage(pulled, ours, { store });
    const theirs = join(work, 'theirs');
    await run('umoci', ['unpack', '--image', `${layout}:base`, theirs]);

    const expected = describeTree(join(theirs, 'rootfs'));
    const actual = describeTree(ours);
    expect(expected.size).toBeGreaterThan(500);
    expect(expected.has('usr/share/zoneinfo/Europe')).toBe(false);
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    for (const [path, description] of expected) expect(`${path}: ${actual.get(path) ?? 'missing'}`).toBe(`${path}: ${description}`);
    const { stdout } = await run('getfattr', ['-e', 'hex', '-n', 'security.capability', join(ours, 'usr/ls')]);
    expect(stdout).toContain('0x0100000200200000000000000000000000000000');
  });
});
