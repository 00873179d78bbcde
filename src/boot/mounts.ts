import { mountMissing, type MountSpec } from '../system/mount.ts';

// initrd/init.sh mounts these with the same options before it starts the launcher (a fork of
// busybox each, where Node's one spawn of a shell took ~0.3 s under TCG); the launcher mounts
// what is missing (started some other way). /run stays on the initramfs root. Parents before what
// is mounted inside them.
export const PSEUDO_FILESYSTEMS: readonly MountSpec[] = [
  { fstype: 'proc', source: 'proc', target: '/proc', options: 'nosuid,nodev,noexec' },
  { fstype: 'devtmpfs', source: 'devtmpfs', target: '/dev', options: 'mode=0755,nosuid' },
  { fstype: 'sysfs', source: 'sysfs', target: '/sys', options: 'nosuid,nodev,noexec' },
  { fstype: 'devpts', source: 'devpts', target: '/dev/pts', options: 'gid=5,mode=620,ptmxmode=666' },
  { fstype: 'tmpfs', source: 'shm', target: '/dev/shm', options: 'mode=1777,nosuid,nodev' },
  { fstype: 'tmpfs', source: 'tmp', target: '/tmp', options: 'mode=1777,nosuid,nodev' },
  { fstype: 'cgroup2', source: 'cgroup2', target: '/sys/fs/cgroup', options: 'nsdelegate' },
];

/** The pseudo-filesystems every later phase expects. */
export async function mountPseudoFilesystems(): Promise<void> {
  await mountMissing(PSEUDO_FILESYSTEMS);
}
