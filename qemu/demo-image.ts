// The demo image, built offline from Debian's busybox-static: /bin/busybox, a link per applet, a
// passwd/group with root and a 'demo' user. Used by `make run` (qemu/demo), the run tests and bench/run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { FileSpec, ImageSpec } from '../test/support/image.ts';

export const BUSYBOX = '/bin/busybox';

/** A static busybox (Debian's busybox-static: the image has no libc) and how to run it on this host. */
export interface DemoBusybox {
  path: string;
  /** Argv prefix running it here: [] for the host's own, qemu-user for another architecture's. */
  emulator: readonly string[];
}

const HOST_BUSYBOX: DemoBusybox = { path: BUSYBOX, emulator: [] };

/** Applets of that busybox, as it lists them itself. */
function applets(busybox: DemoBusybox): string[] {
  const [program, ...args] = [...busybox.emulator, busybox.path, '--list-full'];
  return execFileSync(program ?? busybox.path, args, { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '' && line !== 'bin/busybox');
}

export function demoImageSpec(config: Record<string, unknown> = {}, busybox: DemoBusybox = HOST_BUSYBOX): ImageSpec {
  const epoch = new Date(0);
  const directories = ['bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'etc', 'root', 'tmp', 'home', 'home/demo', 'var', 'proc', 'sys', 'dev'];
  const files: FileSpec[] = [
    ...directories.map((path): FileSpec => ({ path, type: 'directory', mode: path === 'tmp' ? 0o1777 : 0o755, mtime: epoch, uid: path === 'home/demo' ? 1000 : 0, gid: path === 'home/demo' ? 1000 : 0 })),
    { path: 'bin/busybox', content: readFileSync(busybox.path), mode: 0o755, mtime: epoch },
    { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\ndemo:x:1000:1000:demo:/home/demo:/bin/sh\n', mode: 0o644, mtime: epoch },
    { path: 'etc/group', content: 'root:x:0:\ndemo:x:1000:\nvideo:x:44:demo\n', mode: 0o644, mtime: epoch },
  ];
  for (const applet of applets(busybox)) {
    const depth = applet.split('/').length - 1;
    files.push({ path: applet, type: 'symlink', linkTarget: `${'../'.repeat(depth)}bin/busybox`.replace(/^bin\/busybox$/, 'busybox'), mtime: epoch });
  }
  return {
    layers: [{ files, compression: 'gzip' }],
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh', '-c', 'echo "Hello from the ocinit demo container on $(uname -m)"'], ...config },
  };
}
