// The readelf-based library resolution finds, for the host's own programs, exactly what ldd finds
// (ldd runs the real loader): the same paths and the same files.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedLibraries } from '../../../initrd/libraries.ts';
import { describeTarget } from '../../../initrd/target.ts';

function lddLibraries(executable: string): string[] {
  const result = spawnSync('ldd', [executable], { encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined)
    .map((path) => `${path} ${realpathSync(path)}`)
    .sort();
}

describe('sharedLibraries on this host', () => {
  const target = describeTarget('x86_64');
  it.each(['/usr/bin/crun', '/usr/sbin/mke2fs', '/usr/sbin/sfdisk', '/usr/bin/setfattr', 'node_modules/.bin/node'])('finds what ldd finds for %s', (program) => {
    const executable = realpathSync(program);
    const ours = sharedLibraries(executable, target.sysroot, target.libraryDirs, target.elfMachine).map((library) => `${library.path} ${library.file}`).sort();
    expect(ours.length).toBeGreaterThan(1);
    expect(ours).toEqual(lddLibraries(executable));
  });

  it('finds nothing for the static busybox, like ldd', () => {
    expect(sharedLibraries('/bin/busybox', target.sysroot, target.libraryDirs, target.elfMachine)).toEqual([]);
    expect(lddLibraries('/bin/busybox')).toEqual([]);
  });
});
