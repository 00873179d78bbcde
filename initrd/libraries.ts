// The shared libraries an executable needs, found the way the dynamic loader finds them but inside a
// sysroot: its PT_INTERP and DT_NEEDED entries (readelf, which reads any architecture's ELF, where
// ldd would have to run the target's loader), searched in RUNPATH then the target's library
// directories, transitively. A native build passes sysroot '/'.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

export interface ElfLinkInfo {
  /** The file header's machine, as readelf names it: `AArch64`, `Advanced Micro Devices X86-64`. */
  machine: string | undefined;
  /** PT_INTERP: the dynamic loader's path; none for a static executable. */
  interpreter: string | undefined;
  /** DT_NEEDED sonames, in order. */
  needed: string[];
  /** DT_RUNPATH or DT_RPATH directories. */
  runpath: string[];
}

/** Parses `readelf --file-header --program-headers --dynamic --wide FILE`. */
export function parseReadelf(text: string): ElfLinkInfo {
  const machine = /^\s*Machine:\s+(.+?)\s*$/m.exec(text)?.[1];
  const interpreter = /\[Requesting program interpreter: ([^\]]+)\]/.exec(text)?.[1];
  const needed = [...text.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((match) => match[1] ?? '');
  const runpath = [...text.matchAll(/\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]/g)].flatMap((match) => (match[1] ?? '').split(':'));
  return { machine, interpreter, needed, runpath: runpath.filter(Boolean) };
}

export function readElfLinkInfo(file: string): ElfLinkInfo {
  const result = spawnSync('readelf', ['--file-header', '--program-headers', '--dynamic', '--wide', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.error) throw new Error(`cannot run readelf (binutils): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`readelf ${file} failed: ${result.stderr.trim()}`);
  return parseReadelf(result.stdout);
}

/**
 * The host file that `path` (absolute, as seen from inside `sysroot`) names, following symlinks the
 * way they resolve inside the sysroot: an absolute link target starts again at the sysroot, `..`
 * never climbs out of it. Undefined when a component is missing.
 */
export function resolveInSysroot(sysroot: string, path: string): string | undefined {
  const pending = path.split('/').filter(Boolean);
  const resolved: string[] = [];
  for (let hops = 0; pending.length > 0; ) {
    const component = pending.shift() ?? '';
    if (component === '.') continue;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const host = posix.join(sysroot, ...resolved, component);
    if (!existsSync(host) && !isSymlink(host)) return undefined;
    if (!isSymlink(host)) {
      resolved.push(component);
      continue;
    }
    if (++hops > 40) throw new Error(`${path}: too many symbolic links in ${sysroot}`);
    const target = readlinkSync(host);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter(Boolean));
  }
  return posix.join(sysroot, ...resolved);
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface SharedLibrary {
  /** Where the library is in the sysroot, and so in the initramfs: /lib/aarch64-linux-gnu/libc.so.6. */
  path: string;
  /** The regular file on the build host holding it. */
  file: string;
}

/**
 * Every library `executable` (a host file) loads, with its loader, in a stable order; empty for a
 * static executable. Throws naming the soname and who needs it when a library is nowhere to be found,
 * and naming the file when it or a library is built for another `machine` than the target's.
 */
export function sharedLibraries(executable: string, sysroot: string, libraryDirs: readonly string[], machine: string, readElf: (file: string) => ElfLinkInfo = readElfLinkInfo): SharedLibrary[] {
  const found = new Map<string, SharedLibrary>();
  const visit = (file: string, who: string): void => {
    const info = readElf(file);
    if (info.machine !== machine) throw new Error(`${who} (${file}) is built for ${info.machine ?? 'no known machine'}, not ${machine}`);
    const add = (path: string): SharedLibrary | undefined => {
      const known = found.get(path);
      if (known !== undefined) return known;
      const hostFile = resolveInSysroot(sysroot, path);
      if (hostFile === undefined) return undefined;
      const library = { path, file: hostFile };
      found.set(path, library);
      visit(hostFile, path);
      return library;
    };
    if (info.interpreter !== undefined && add(info.interpreter) === undefined) {
      throw new Error(`${who} wants the loader ${info.interpreter}, which ${sysroot} lacks`);
    }
    const searchDirs = [...info.runpath.filter((dir) => !dir.includes('$')), ...libraryDirs];
    for (const soname of info.needed) {
      const paths = soname.includes('/') ? [soname] : searchDirs.map((dir) => posix.join(dir, soname));
      if (paths.some((path) => found.has(path))) continue;
      if (!paths.some((path) => add(path) !== undefined)) {
        throw new Error(`${who} needs ${soname}, found in none of ${searchDirs.join(' ')} under ${sysroot}: add the Debian package that ships it`);
      }
    }
  };
  visit(executable, executable);
  return [...found.values()];
}
