import type { Logger } from '../log/logger.ts';
import { mount, type MountSpec } from '../system/mount.ts';

// initrd/init.sh already mounted /proc, /dev (devtmpfs) and /run: node needs them to start.
const SYSFS: MountSpec = { fstype: 'sysfs', source: 'sysfs', target: '/sys', options: 'nosuid,nodev,noexec' };
const AFTER_SYSFS: MountSpec[] = [
  { fstype: 'devpts', source: 'devpts', target: '/dev/pts', options: 'gid=5,mode=620,ptmxmode=666' },
  { fstype: 'tmpfs', source: 'shm', target: '/dev/shm', options: 'mode=1777,nosuid,nodev' },
  { fstype: 'tmpfs', source: 'tmp', target: '/tmp', options: 'mode=1777,nosuid,nodev' },
  { fstype: 'cgroup2', source: 'cgroup2', target: '/sys/fs/cgroup', options: 'nsdelegate' },
];

/** The pseudo-filesystems every later phase expects; independent mounts go in parallel. */
export async function mountPseudoFilesystems(log: Logger): Promise<void> {
  await mount(SYSFS, log);
  await Promise.all(AFTER_SYSFS.map((spec) => mount(spec, log)));
}
