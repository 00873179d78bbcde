import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, chmodSync, chownSync, utimesSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OcinitError } from '../log/errors.ts';
import { runChecked } from '../system/exec.ts';
import type { EntryBody, TarEntry, TarSink } from './tar.ts';

export interface UnpackLimits {
  /** Uncompressed bytes over all layers (default 32 GiB). */
  maxBytes?: number;
  /** Entries over all layers (default 4 million). */
  maxEntries?: number;
}

export const DEFAULT_LIMITS: Required<UnpackLimits> = { maxBytes: 32 * 1024 ** 3, maxEntries: 4_000_000 };

const MAX_SYMLINK_HOPS = 40;
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const CAN_CHOWN = process.getuid?.() === 0;
/** New names belong to 0:0 without a chown (no setgid parent passing its group on). */
const CREATES_AS_ROOT = process.geteuid?.() === 0 && process.getegid?.() === 0;
const SETGID = 0o2000;
const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** mknod's arguments for a device node or FIFO. */
function mknodArguments(target: string, entry: TarEntry): string[] {
  const mode = (entry.mode & 0o777).toString(8);
  if (entry.type === 'fifo') return ['-m', mode, target, 'p'];
  return ['-m', mode, target, entry.type === 'char' ? 'c' : 'b', String(entry.devMajor), String(entry.devMinor)];
}

/** Makes device nodes and FIFOs (Node has no mknod): one mknod, or one shell running several. */
async function makeNodes(nodes: readonly { target: string; entry: TarEntry }[]): Promise<void> {
  const [only] = nodes;
  if (nodes.length === 1 && only !== undefined) {
    await runChecked(['mknod', ...mknodArguments(only.target, only.entry)], { what: `creating ${only.entry.type} ${only.entry.path}` });
    return;
  }
  // Each node's arguments as six words (a FIFO's two last ones empty), so no quoting is involved.
  const words = nodes.flatMap(({ target, entry }) => {
    const [, mode = '', , type = '', major = '', minor = ''] = mknodArguments(target, entry);
    return [mode, target, type, major, minor];
  });
  const script = 'while [ "$#" -gt 0 ]; do if [ "$3" = p ]; then mknod -m "$1" "$2" p; else mknod -m "$1" "$2" "$3" "$4" "$5"; fi || exit; shift 5; done';
  const names = nodes.map(({ entry }) => entry.path).join(', ');
  await runChecked(['sh', '-c', script, 'sh', ...words], { what: `creating the device nodes and FIFOs ${names.length > 300 ? `${names.slice(0, 300)}...` : names}` });
}

/** Thrown (and caught in LayerApplier.entry) when an entry reaches a node still being made. */
const NODE_PENDING = Symbol('node pending');

function hostile(reason: string, path: string): OcinitError {
  return new OcinitError(`unsafe layer entry '${path.slice(0, 300)}': ${reason}`, { hint: 'the image contains a layer that tries to write outside its root; it was not unpacked' });
}

/** Splits an archive name into clean components; `..` is refused, a leading `/` means the root. */
export function entryComponents(name: string): string[] {
  const components = name.split('/').filter((part) => part !== '' && part !== '.');
  if (components.includes('..')) throw hostile("'..' in the name", name);
  return components;
}

/**
 * What a layer's whiteout entries do. Flattening (below) deletes from the lower layers already in the
 * tree; an overlayfs mode can instead turn them into overlay whiteouts in a per-layer directory.
 */
export interface WhiteoutStrategy {
  whiteout(applier: LayerApplier, parent: string[], name: string, entryPath: string): void | Promise<void>;
  opaque(applier: LayerApplier, parent: string[], entryPath: string): void | Promise<void>;
}

export const flattenWhiteouts: WhiteoutStrategy = {
  whiteout(applier, parent, name) {
    const dir = applier.resolveDirectory(parent, false);
    if (dir === undefined) return;
    applier.removeLower(join(dir, name));
  },
  opaque(applier, parent) {
    const dir = applier.resolveDirectory(parent, true);
    if (dir !== undefined) applier.clearLowerChildren(dir);
  },
};

/**
 * For a layer unpacked on its own as an overlayfs lower directory: `.wh.NAME` becomes the character
 * device 0:0 `NAME`, and an opaque marker sets `trusted.overlay.opaque=y` on its directory.
 */
export const overlayWhiteouts: WhiteoutStrategy = {
  async whiteout(applier, parent, name, entryPath) {
    const dir = applier.resolveDirectory(parent, true);
    if (dir === undefined) throw hostile('parent is not a directory', entryPath);
    const target = join(dir, name);
    applier.removeLower(target);
    await runChecked(['mknod', target, 'c', '0', '0'], { what: `creating the overlay whiteout for ${entryPath}` });
  },
  async opaque(applier, parent, entryPath) {
    const dir = applier.resolveDirectory(parent, true);
    if (dir === undefined) throw hostile('parent is not a directory', entryPath);
    await runChecked(['setfattr', '-n', 'trusted.overlay.opaque', '-v', 'y', dir], { what: `marking ${entryPath} opaque` });
  },
};

/** State shared by every layer of one unpack: the root, limits and deferred directory times. */
export class UnpackState {
  readonly root: string;
  readonly limits: Required<UnpackLimits>;
  entries = 0;
  bytes = 0;
  readonly directoryTimes = new Map<string, number>();
  /** Real paths known to be directories (not symlinks) inside the root. */
  readonly knownDirectories = new Set<string>();
  /**
   * Whether a directory of the tree may be setgid (its new entries then take its group). The root
   * is a fresh directory chmod-ed to 0755, and every directory below it comes from this unpack.
   */
  setgidDirectories = false;

  constructor(root: string, limits: UnpackLimits = {}) {
    // Normalized: paths below it are built by appending '/name' (see resolveDirectory).
    this.root = resolve(root);
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.knownDirectories.add(this.root);
  }

  countBytes(count: number): void {
    this.bytes += count;
    if (this.bytes > this.limits.maxBytes) {
      throw new OcinitError(`the image unpacks to more than ${this.limits.maxBytes} bytes; stopped`, { hint: 'a decompression bomb, or a very large image: raise the unpack size limit if it is genuine' });
    }
  }

  /** Sets directory mtimes last (deepest first) so that creating their children does not undo them. */
  finish(): void {
    const paths = [...this.directoryTimes.keys()].sort((a, b) => b.length - a.length);
    for (const path of paths) {
      const stat = lstatSync(path, { throwIfNoEntry: false });
      const time = this.directoryTimes.get(path) ?? 0;
      if (stat?.isDirectory()) utimesSync(path, time, time);
    }
  }
}

/**
 * Applies one layer's tar entries under the root. Every name is resolved component by component with
 * symlinks followed *inside* the root (as if chrooted), the final component is never followed (it is
 * replaced), files are created with O_EXCL|O_NOFOLLOW: nothing outside the root can be reached.
 */
export class LayerApplier implements TarSink {
  readonly #state: UnpackState;
  readonly #whiteouts: WhiteoutStrategy;
  /** Real paths written by this layer (and their ancestors): whiteouts only hide lower layers. */
  readonly #written = new Set<string>();
  /**
   * Device nodes and FIFOs still being made (Node has no mknod: each one is a process). They are
   * made while the following entries are applied; an entry that reaches one of their paths waits.
   */
  readonly #pendingNodes = new Map<string, Promise<void>>();
  /** Nodes met while the current chunk of the archive is applied: made together by one process. */
  #nodeBatch: { target: string; entry: TarEntry }[] = [];
  #nodeBatchMade: Promise<void> = Promise.resolve();
  #nodeFailure: unknown;
  /** The last entry parent resolved (see #resolveParent). */
  #lastParent: { key: string; real: string } | undefined;

  constructor(state: UnpackState, whiteouts: WhiteoutStrategy = flattenWhiteouts) {
    this.#state = state;
    this.#whiteouts = whiteouts;
  }

  /**
   * Whether a name this unpack just created needs a chown to get the entry's owner. Under TCG the
   * demo layer's 268 symlinks made lchown a tenth of the unpacking's syscalls for owners (0:0)
   * that new names have anyway.
   */
  #needsChown(entry: TarEntry): boolean {
    return CAN_CHOWN && !(CREATES_AS_ROOT && entry.uid === 0 && entry.gid === 0 && !this.#state.setgidDirectories);
  }

  entry(entry: TarEntry): EntryBody | undefined | Promise<EntryBody | undefined> {
    const state = this.#state;
    state.entries++;
    if (state.entries > state.limits.maxEntries) {
      throw new OcinitError(`the image has more than ${state.limits.maxEntries} entries; stopped`, { hint: 'raise the entry limit if the image is genuine' });
    }
    if (this.#pendingNodes.size === 0) return this.#apply(entry);
    try {
      return this.#apply(entry);
    } catch (error) {
      if (error !== NODE_PENDING) throw error;
      // Nothing was changed for this entry beyond creating its missing parent directories.
      return this.settle().then(() => this.#apply(entry));
    }
  }

  /** Waits for the device nodes and FIFOs being made; throws if one could not be made. */
  async settle(): Promise<void> {
    while (this.#pendingNodes.size > 0) await Promise.all(this.#pendingNodes.values());
    if (this.#nodeFailure !== undefined) throw this.#nodeFailure;
  }

  /** Throws NODE_PENDING when `path` is a node still being made. */
  #mustNotBePending(path: string): void {
    if (this.#pendingNodes.size > 0 && this.#pendingNodes.has(path)) throw NODE_PENDING;
  }

  #apply(entry: TarEntry): EntryBody | undefined | Promise<EntryBody | undefined> {
    const state = this.#state;
    const components = entryComponents(entry.path);
    const name = components.pop();
    if (name === undefined) {
      if (entry.type !== 'directory') throw hostile('the root itself is not a directory', entry.path);
      return this.#setDirectoryMetadata(state.root, entry);
    }
    if (name.startsWith(WHITEOUT_PREFIX)) {
      if (entry.type === 'directory') throw hostile('a whiteout that is a directory', entry.path);
      let done: void | Promise<void> = undefined;
      if (name === OPAQUE_MARKER) done = this.#whiteouts.opaque(this, components, entry.path);
      else if (!name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
        const hidden = name.slice(WHITEOUT_PREFIX.length);
        if (hidden === '' || hidden === '.' || hidden === '..') throw hostile('whiteout of an invalid name', entry.path);
        done = this.#whiteouts.whiteout(this, components, hidden, entry.path);
      }
      return done instanceof Promise ? done.then(() => undefined) : undefined;
    }
    const parent = this.#resolveParent(components);
    if (parent === undefined) throw hostile('parent is not a directory', entry.path);
    // Components are clean names (no '/', '.', '..' or ''), and resolved paths are normalized.
    const target = parent === '/' ? `/${name}` : `${parent}/${name}`;
    this.#mustNotBePending(target);
    this.#markWritten(target);
    switch (entry.type) {
      case 'directory':
        return this.#directory(target, entry);
      case 'file':
        return this.#file(target, entry);
      case 'symlink':
        this.#create(target, () => symlinkSync(entry.linkTarget, target));
        if (this.#needsChown(entry)) lchownSync(target, entry.uid, entry.gid);
        lutimesSync(target, entry.mtime, entry.mtime);
        return undefined;
      case 'hardlink':
        return this.#hardlink(target, entry);
      case 'char':
      case 'block':
      case 'fifo':
        return this.#special(target, entry);
    }
  }

  /**
   * resolveDirectory(components, true) for an entry's parent, remembered for the next entry: the
   * entries of one directory come together in an archive. Resolution depends only on what exists
   * along the path, and creating new names cannot change it; so the remembered answer holds until
   * something is removed or replaced (see #forgetResolutions).
   */
  #resolveParent(components: readonly string[]): string | undefined {
    const key = components.join('/');
    if (this.#lastParent !== undefined && this.#lastParent.key === key) return this.#lastParent.real;
    const real = this.resolveDirectory(components, true);
    this.#lastParent = real === undefined ? undefined : { key, real };
    return real;
  }

  #forgetResolutions(): void {
    this.#lastParent = undefined;
  }

  /**
   * The real path of the directory `components` name inside the root, following symlinks within the
   * root. Missing directories are created when `create` is set, else undefined is returned.
   */
  resolveDirectory(components: readonly string[], create: boolean): string | undefined {
    const state = this.#state;
    const stack = [...components].reverse();
    // The real path so far, built by appending '/name' (join() costs more than the whole lookup);
    // it never goes above the root, as if chrooted.
    const root = state.root === '/' ? '' : state.root;
    let real = root;
    let hops = 0;
    while (stack.length > 0) {
      const part = stack.pop() ?? '';
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (real.length > root.length) real = real.slice(0, real.lastIndexOf('/'));
        continue;
      }
      const candidate = `${real}/${part}`;
      if (state.knownDirectories.has(candidate)) {
        real = candidate;
        continue;
      }
      this.#mustNotBePending(candidate);
      const stat = lstatSync(candidate, { throwIfNoEntry: false });
      if (stat === undefined) {
        if (!create) return undefined;
        mkdirSync(candidate, 0o755);
        this.#markWritten(candidate);
      } else if (stat.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw hostile('too many levels of symbolic links', components.join('/'));
        const link = readlinkSync(candidate);
        if (link.startsWith('/')) real = root;
        stack.push(...link.split('/').reverse());
        continue;
      } else if (!stat.isDirectory()) {
        if (!create) return undefined;
        throw new OcinitError(`layer entry under '${components.join('/')}': '${candidate.slice(root.length + 1)}' is not a directory`, { hint: 'the image layers are inconsistent' });
      }
      state.knownDirectories.add(candidate);
      real = candidate;
    }
    return real === '' ? '/' : real;
  }

  /** Removes a path from a lower layer (not one this layer wrote). Never follows a symlink. */
  removeLower(path: string): void {
    if (this.#written.has(path)) return;
    this.#remove(path);
  }

  /** Empties a directory of what lower layers put there, keeping this layer's own entries. */
  clearLowerChildren(dir: string): void {
    for (const child of readdirSync(dir)) {
      const path = join(dir, child);
      if (!this.#written.has(path)) this.#remove(path);
      else if (this.#state.knownDirectories.has(path)) this.clearLowerChildren(path);
    }
  }

  #remove(path: string): void {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return;
    this.#forgetResolutions();
    if (stat.isDirectory()) this.#forgetDirectories(path);
    rmSync(path, { recursive: true, force: true });
  }

  #forgetDirectories(path: string): void {
    const prefix = `${path}/`;
    this.#state.knownDirectories.delete(path);
    for (const known of this.#state.knownDirectories) if (known.startsWith(prefix)) this.#state.knownDirectories.delete(known);
    for (const known of this.#state.directoryTimes.keys()) if (known === path || known.startsWith(prefix)) this.#state.directoryTimes.delete(known);
  }

  #markWritten(path: string): void {
    let current = path;
    while (current.length > this.#state.root.length && !this.#written.has(current)) {
      this.#written.add(current);
      current = current.slice(0, current.lastIndexOf('/'));
    }
  }

  /**
   * Runs `create`, which makes a new name at `path` and fails with EEXIST when something is already
   * there (O_CREAT|O_EXCL, mkdir, symlink, link: none of them follows a final symlink); only then is
   * the old entry removed and `create` run again. Most names are new, so most entries cost no lstat.
   */
  #create<T>(path: string, create: () => T): T {
    try {
      return create();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    this.#clear(path, false);
    return create();
  }

  /** Makes room for a new entry at `path`; an existing directory stays when a directory replaces it. */
  #clear(path: string, keepDirectory: boolean): boolean {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return false;
    if (keepDirectory && stat.isDirectory()) return true;
    this.#forgetResolutions();
    if (stat.isDirectory()) this.#forgetDirectories(path);
    rmSync(path, { recursive: true, force: true });
    return false;
  }

  #directory(target: string, entry: TarEntry): Promise<undefined> | undefined {
    try {
      mkdirSync(target, 0o700);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!this.#clear(target, true)) mkdirSync(target, 0o700);
    }
    this.#state.knownDirectories.add(target);
    return this.#setDirectoryMetadata(target, entry);
  }

  #setDirectoryMetadata(target: string, entry: TarEntry): Promise<undefined> | undefined {
    if (CAN_CHOWN) chownSync(target, entry.uid, entry.gid);
    chmodSync(target, entry.mode);
    if ((entry.mode & SETGID) !== 0) this.#state.setgidDirectories = true;
    this.#state.directoryTimes.set(target, entry.mtime);
    return this.#applyXattrs(target, entry)?.then(() => undefined);
  }

  #file(target: string, entry: TarEntry): EntryBody {
    const fd = this.#create(target, () => openSync(target, OPEN_NEW_FILE, 0o600));
    const state = this.#state;
    const chown = this.#needsChown(entry);
    return {
      write(chunk) {
        state.countBytes(chunk.length);
        let offset = 0;
        while (offset < chunk.length) offset += writeSync(fd, chunk, offset);
      },
      close: () => {
        try {
          if (chown) fchownSync(fd, entry.uid, entry.gid);
          fchmodSync(fd, entry.mode);
          futimesSync(fd, entry.mtime, entry.mtime);
        } finally {
          closeSync(fd);
        }
        return this.#applyXattrs(target, entry);
      },
      abort() {
        try {
          closeSync(fd);
        } catch {
          // The failure that stopped the archive is the one to report.
        }
      },
    };
  }

  #hardlink(target: string, entry: TarEntry): undefined {
    const components = entryComponents(entry.linkTarget);
    const name = components.pop();
    if (name === undefined) throw hostile('hard link to the root', entry.path);
    const dir = this.resolveDirectory(components, false);
    const source = dir === undefined ? undefined : join(dir, name);
    if (source !== undefined) this.#mustNotBePending(source);
    const stat = source === undefined ? undefined : lstatSync(source, { throwIfNoEntry: false });
    if (source === undefined || stat === undefined) throw hostile(`hard link to '${entry.linkTarget}', which does not exist in the image`, entry.path);
    if (stat.isDirectory()) throw hostile(`hard link to the directory '${entry.linkTarget}'`, entry.path);
    if (source === target) return undefined;
    this.#create(target, () => linkSync(source, target));
    return undefined;
  }

  #special(target: string, entry: TarEntry): undefined {
    this.#clear(target, false);
    if (this.#nodeBatch.length === 0) {
      // Spawning is what a node costs (~3 ms each from a process as large as Node): the nodes of
      // one chunk (a whole /dev, typically) are made by one shell, after the chunk is applied.
      const batch = this.#nodeBatch;
      this.#nodeBatchMade = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => {
          this.#nodeBatch = [];
          return makeNodes(batch);
        })
        .then(() => {
          for (const node of batch) {
            if (CAN_CHOWN) lchownSync(node.target, node.entry.uid, node.entry.gid);
            chmodSync(node.target, node.entry.mode);
            utimesSync(node.target, node.entry.mtime, node.entry.mtime);
          }
        })
        .catch((error: unknown) => {
          this.#nodeFailure ??= error;
        })
        .finally(() => {
          for (const node of batch) this.#pendingNodes.delete(node.target);
        });
    }
    this.#nodeBatch.push({ target, entry });
    this.#pendingNodes.set(target, this.#nodeBatchMade);
    return undefined;
  }

  /**
   * xattrs after chown (which clears security.capability). Node has no setxattr, so this spawns
   * setfattr; only the namespaces an image may carry are applied (user., trusted., security.capability).
   */
  #applyXattrs(target: string, entry: TarEntry): Promise<void> | undefined {
    const wanted = [...entry.xattrs].filter(([name]) => name.startsWith('user.') || name.startsWith('trusted.') || name === 'security.capability');
    if (wanted.length === 0) return undefined;
    return (async () => {
      for (const [name, value] of wanted) {
        await runChecked(['setfattr', '-h', '-n', name, '-v', `0x${value.toString('hex')}`, target], { what: `setting ${name} on ${entry.path}` });
      }
    })();
  }
}
