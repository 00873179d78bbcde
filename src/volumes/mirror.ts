// What a mirror run transfers, decided from two listings alone (no I/O): boot2container's
// `mcli mirror [--overwrite] [--remove] [--exclude GLOB]...` semantics.

/** A file on either side: its path relative to the mirrored root ('/'-separated), size and mtime. */
export interface MirrorEntry {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface MirrorRules {
  /** Replace target files that differ from the source (else they are left and reported). */
  overwrite: boolean;
  /** Delete target files the source does not have. */
  remove: boolean;
  exclude: readonly string[];
}

export interface MirrorDecision {
  /** New on the target, or differing and `overwrite` set. */
  transfer: string[];
  /** On the target only, with `remove` set. */
  remove: string[];
  /** Differing, left alone because `overwrite` is not set. */
  conflicts: string[];
  /** Same size and the target is at least as new: left alone. */
  unchanged: number;
}

function globToRegExp(glob: string): RegExp {
  let pattern = '';
  for (const character of glob) {
    if (character === '*') pattern += '.*';
    else if (character === '?') pattern += '.';
    else pattern += character.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${pattern}$`, 's');
}

/**
 * mcli's --exclude wildcards: `*` matches any run of characters, slashes included, `?` one. A
 * pattern matches a file when it matches its relative path or its base name, so `*.tmp` and
 * `logs/*` both do what they say.
 */
export function excluder(patterns: readonly string[]): (path: string) => boolean {
  const expressions = patterns.map(globToRegExp);
  return (path) => {
    const base = path.slice(path.lastIndexOf('/') + 1);
    return expressions.some((expression) => expression.test(path) || expression.test(base));
  };
}

/** A target file is unchanged when it has the source's size and is at least as recent. */
export function isUnchanged(source: MirrorEntry, target: MirrorEntry): boolean {
  return source.size === target.size && target.mtimeMs >= source.mtimeMs;
}

export function decideMirror(source: readonly MirrorEntry[], target: readonly MirrorEntry[], rules: MirrorRules): MirrorDecision {
  const excluded = excluder(rules.exclude);
  const targets = new Map(target.filter((entry) => !excluded(entry.path)).map((entry) => [entry.path, entry]));
  const decision: MirrorDecision = { transfer: [], remove: [], conflicts: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const entry of source) {
    if (excluded(entry.path)) continue;
    seen.add(entry.path);
    const existing = targets.get(entry.path);
    if (existing === undefined) decision.transfer.push(entry.path);
    else if (isUnchanged(entry, existing)) decision.unchanged++;
    else if (rules.overwrite) decision.transfer.push(entry.path);
    else decision.conflicts.push(entry.path);
  }
  if (rules.remove) for (const path of targets.keys()) if (!seen.has(path)) decision.remove.push(path);
  decision.transfer.sort();
  decision.remove.sort();
  decision.conflicts.sort();
  return decision;
}

/** The object key of a relative path under a mirror's PATH prefix, and back. */
export function keyFor(prefix: string, path: string): string {
  const base = prefix.replace(/^\/+|\/+$/g, '');
  return base === '' ? path : `${base}/${path}`;
}

export function pathFor(prefix: string, key: string): string | undefined {
  const base = prefix.replace(/^\/+|\/+$/g, '');
  if (base === '') return key;
  return key.startsWith(`${base}/`) ? key.slice(base.length + 1) : undefined;
}

/**
 * A remote key as a path inside the volume, or undefined when it could not be one safely
 * (absolute, `..`, empty segments, or the names S3 uses for "folders").
 */
export function safeRelativePath(path: string): string | undefined {
  if (path === '' || path.endsWith('/') || path.includes('\0')) return undefined;
  const segments = path.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) return undefined;
  return path;
}

/** `mc-attrs` metadata as mcli writes it with -a: `mode:33188#mtime:1700000000#uid:0#gid:0`. */
export interface PreservedAttributes {
  mode?: number;
  mtimeSeconds?: number;
  uid?: number;
  gid?: number;
}

export function formatAttributes(attributes: PreservedAttributes): string {
  const fields: string[] = [];
  if (attributes.gid !== undefined) fields.push(`gid:${attributes.gid}`);
  if (attributes.mode !== undefined) fields.push(`mode:${attributes.mode}`);
  if (attributes.mtimeSeconds !== undefined) fields.push(`mtime:${attributes.mtimeSeconds}`);
  if (attributes.uid !== undefined) fields.push(`uid:${attributes.uid}`);
  return fields.join('#');
}

export function parseAttributes(text: string): PreservedAttributes {
  const attributes: PreservedAttributes = {};
  for (const field of text.split('#')) {
    const [name, value = ''] = field.split(':');
    const number = Number(value);
    if (value === '' || !Number.isFinite(number)) continue;
    if (name === 'mode') attributes.mode = number;
    else if (name === 'mtime') attributes.mtimeSeconds = number;
    else if (name === 'uid') attributes.uid = number;
    else if (name === 'gid') attributes.gid = number;
  }
  return attributes;
}
