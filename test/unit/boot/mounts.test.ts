import { describe, expect, it } from 'vitest';
import { notYetMounted } from '../../../src/boot/mounts.ts';

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
});
