import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileInRoot, resolveInRoot } from '../../../src/run/root-path.ts';
import { resolveUser } from '../../../src/run/user.ts';

let root: string;
let outside: string;
const where = { image: 'img', parameter: 'b2c.container #1' };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ocinit-root-'));
  outside = mkdtempSync(join(tmpdir(), 'ocinit-outside-'));
  mkdirSync(join(root, 'etc'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('resolveInRoot', () => {
  it('keeps absolute and relative symlinks and .. inside the root', () => {
    writeFileSync(join(outside, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
    symlinkSync(join(outside, 'passwd'), join(root, 'etc', 'absolute'));
    symlinkSync('../../../../../../..' + join(outside, 'passwd'), join(root, 'etc', 'relative'));
    expect(resolveInRoot(root, '/etc/absolute')).toBe(join(root, outside, 'passwd'));
    expect(resolveInRoot(root, '/etc/relative')).toBe(join(root, outside, 'passwd'));
    expect(resolveInRoot(root, '/../../etc/x')).toBe(join(root, 'etc', 'x'));
    expect(readFileInRoot(root, '/etc/absolute')).toBeUndefined();
  });

  it('stops on symlink loops instead of spinning', () => {
    symlinkSync('loop', join(root, 'etc', 'loop'));
    expect(readFileInRoot(root, '/etc/loop')).toBeUndefined();
  });
});

describe('resolveUser', () => {
  beforeEach(() => {
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nbuilder:x:1000:1000::/home/builder:/bin/sh\nbad line\n');
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nbuilder:x:1000:\nvideo:x:44:builder\nrender:x:105:other,builder\n');
  });

  it('resolves names through the image files, with supplementary groups', () => {
    expect(resolveUser(root, 'builder', '/', where)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 44, 105], home: '/home/builder', additions: {} });
    expect(resolveUser(root, undefined, '/', where)).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root', additions: {} });
    expect(resolveUser(root, 'root', '/', where)).toMatchObject({ uid: 0, gid: 0, additionalGids: [0] });
  });

  // What podman 4.3.1 did for each form (its `id`, and the lines it appended to the image's files).
  it('takes numeric ids as they are, and a forced group without supplementary groups', () => {
    expect(resolveUser(root, 'builder:video', '/', where)).toEqual({ uid: 1000, gid: 44, additionalGids: [44], home: '/home/builder', additions: {} });
    expect(resolveUser(root, '0:5', '/', where)).toMatchObject({ uid: 0, gid: 5, additionalGids: [5] });
  });

  it('gives a uid the image lacks group 0, the working directory as home and podman\'s passwd and group entries', () => {
    expect(resolveUser(root, '1234', '/tmp', where)).toEqual({
      uid: 1234,
      gid: 0,
      additionalGids: [0],
      home: '/tmp',
      additions: { passwd: '1234:*:1234:0:container user:/tmp:/bin/sh\n', group: '1234:x:1234:1234\n' },
    });
    expect(resolveUser(root, '1234:55', '/', where).additions).toEqual({ passwd: '1234:*:1234:55:container user:/:/bin/sh\n', group: '55:x:55:1234\n' });
    expect(resolveUser(root, '1234:video', '/', where).additions).toEqual({ passwd: '1234:*:1234:44:container user:/:/bin/sh\n' });
    expect(resolveUser(root, 'builder:55', '/', where).additions).toEqual({ group: '55:x:55:builder\n' });
  });

  it('an unknown name is an error naming the image and container', () => {
    expect(() => resolveUser(root, 'nobody', '/', where)).toThrow(/'nobody' is not in the image's \/etc\/passwd/);
    expect(() => resolveUser(root, 'builder:nogroup', '/', where)).toThrow(/group 'nogroup'/);
  });

  it('an image without /etc/passwd still runs numeric users and root', () => {
    rmSync(join(root, 'etc'), { recursive: true });
    expect(resolveUser(root, 'root', '/', where)).toMatchObject({ uid: 0, gid: 0 });
    expect(resolveUser(root, '42:42', '/', where)).toMatchObject({ uid: 42, gid: 42 });
  });
});
