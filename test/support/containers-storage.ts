// containers-storage overlay stores for tests, written by skopeo as podman would
// (`containers-storage:[overlay@ROOT+RUN]NAME`).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** Copies the OCI layout's image into a store at `root` (run state under `runDir`) as `name`. */
export function copyToStore(layoutDir: string, tag: string, driver: 'overlay' | 'vfs', root: string, runDir: string, name: string): void {
  execFileSync('skopeo', ['copy', '--quiet', `oci:${layoutDir}:${tag}`, `containers-storage:[${driver}@${root}+${runDir}]${name}`], { stdio: 'pipe' });
}

/** Removes `dir`, first undoing the mounts containers-storage's overlay driver leaves (its home bound onto itself). */
export function removeStores(dir: string): void {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint?.startsWith(`${dir}/`) === true) execFileSync('umount', ['-l', mountPoint]);
  }
  rmSync(dir, { recursive: true, force: true });
}
