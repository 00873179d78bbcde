import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage, unpackImage, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { describeTree } from '../../support/tree.ts';

const run = promisify(execFile);
let registry: TestRegistry;
let work: string;

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
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
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
