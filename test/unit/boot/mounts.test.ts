import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PSEUDO_FILESYSTEMS } from '../../../src/boot/mounts.ts';
import { RAM_SCRATCH } from '../../../src/cache/index.ts';
import { notYetMounted } from '../../../src/system/mount.ts';

describe('the pseudo-filesystems the launcher mounts', () => {
  const specs = [
    { fstype: 'proc', source: 'proc', target: '/proc' },
    { fstype: 'devtmpfs', source: 'devtmpfs', target: '/dev' },
    { fstype: 'sysfs', source: 'sysfs', target: '/sys' },
  ];

  it('leaves out what /init mounted already', () => {
    const mounts = 'rootfs / rootfs rw 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\nsysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n';
    expect(notYetMounted(specs, mounts).map((spec) => spec.target)).toEqual(['/dev']);
  });

  it('mounts all without /proc, and a target holding another file system type', () => {
    expect(notYetMounted(specs, '')).toEqual(specs);
    expect(notYetMounted(specs, 'tmpfs /dev tmpfs rw 0 0\n').map((spec) => spec.target)).toEqual(['/proc', '/dev', '/sys']);
  });

  it("are mounted by initrd/init.sh with the launcher's options, so that the launcher finds them all (the RAM scratch tmpfs too)", () => {
    const script = readFileSync(new URL('../../../initrd/init.sh', import.meta.url), 'utf8');
    const wanted = [...PSEUDO_FILESYSTEMS, RAM_SCRATCH];
    const mounted = [...script.matchAll(/mount -t (\S+) -o (\S+) (\S+) (\S+?)(?:;|$|\s)/gm)]
      .map(([, fstype, options, source, target]) => ({ fstype, source, target, options }))
      .filter((spec) => wanted.some((one) => one.target === spec.target));
    expect(new Set(mounted.map((spec) => JSON.stringify(spec)))).toEqual(new Set(wanted.map((spec) => JSON.stringify({ fstype: spec.fstype, source: spec.source, target: spec.target, options: spec.options }))));
  });
});
