// Registry mirrors as registries.conf (containers-registries.conf(5)) describes them: for references
// under a prefix (`docker.io`, `registry.lab:5000/team`), each mirror is tried in order, then the
// registry itself. Pure: the same definitions serve b2c.registry_mirror, `--mirror` and a
// registries.conf file.
import type { ImageReference } from '../reference/reference.ts';

/** registries.conf's `pull-from-mirror`: which references a mirror may serve. */
export type MirrorPullPolicy = 'all' | 'digest-only' | 'tag-only';
export const MIRROR_PULL_POLICIES: readonly MirrorPullPolicy[] = ['all', 'digest-only', 'tag-only'];

/** A mirror tried before the registry it mirrors: `host[:port][/path/prefix]`. */
export interface RegistryMirror {
  location: string;
  /** Plain HTTP allowed and certificates not checked for this mirror. */
  insecure?: boolean;
  /** Default `all` (as in registries.conf): tags and digests. */
  pullFromMirror?: MirrorPullPolicy;
}

/**
 * Prefix (`registry[/namespace]`, as written in references: `docker.io`, `host:5000/team`) → its
 * mirrors, in order. The longest prefix matching a reference wins.
 */
export type MirrorConfig = Record<string, RegistryMirror[]>;

/** One mirror where it applies: the syntax of b2c.registry_mirror and `--mirror`. */
export interface MirrorEntry {
  prefix: string;
  mirror: RegistryMirror;
}

export const MIRROR_SYNTAX = 'REGISTRY[/NAMESPACE]=HOST[:PORT][/PREFIX][,insecure][,pull-from-mirror=all|digest-only|tag-only]';

const LOCATION = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?(?:\/[a-z0-9._/-]*)?$/;

export function validLocation(text: string): boolean {
  return LOCATION.test(text) && !text.includes('//');
}

/** Parses `docker.io=10.42.0.1:5000/hub,insecure,pull-from-mirror=digest-only`; a string is the problem. */
export function parseMirrorEntry(text: string): MirrorEntry | string {
  const equals = text.indexOf('=');
  if (equals <= 0) return `'${text}' is not ${MIRROR_SYNTAX}`;
  const prefix = text.slice(0, equals).replace(/\/+$/, '');
  const [location = '', ...options] = text.slice(equals + 1).split(',');
  if (!validLocation(prefix)) return `'${prefix}' is not a registry (HOST[:PORT][/NAMESPACE])`;
  if (!validLocation(location)) return `'${location}' is not a mirror location (HOST[:PORT][/PREFIX])`;
  const mirror: RegistryMirror = { location: location.replace(/\/+$/, ''), insecure: false };
  for (const option of options) {
    if (option === 'insecure') mirror.insecure = true;
    else if (option.startsWith('pull-from-mirror=')) {
      const policy = MIRROR_PULL_POLICIES.find((candidate) => candidate === option.slice('pull-from-mirror='.length));
      if (policy === undefined) return `'${option}': pull-from-mirror takes ${MIRROR_PULL_POLICIES.join(', ')}`;
      mirror.pullFromMirror = policy;
    } else return `unknown mirror option '${option}' (known: insecure, pull-from-mirror=...)`;
  }
  return { prefix, mirror };
}

/** The entries grouped by prefix, in order. */
export function mirrorConfigOf(entries: readonly MirrorEntry[]): MirrorConfig {
  const config: MirrorConfig = {};
  for (const { prefix, mirror } of entries) (config[prefix] ??= []).push(mirror);
  return config;
}

/** Appends `more`'s mirrors after `base`'s (a command line's after a file's). */
export function mergeMirrorConfigs(base: MirrorConfig, more: MirrorConfig): MirrorConfig {
  const merged: MirrorConfig = {};
  for (const config of [base, more]) for (const [prefix, mirrors] of Object.entries(config)) merged[prefix] = [...(merged[prefix] ?? []), ...mirrors];
  return merged;
}

export interface MirrorSource {
  mirror: RegistryMirror;
  /** `host[:port]` of the mirror. */
  host: string;
  /** The repository on the mirror: the mirror's path prefix in place of the matched namespace. */
  repository: string;
}

/**
 * The mirrors that may serve `reference`, in order: those of the longest matching prefix whose
 * pull-from-mirror allows a reference of its kind (by digest or by tag).
 */
export function mirrorsFor(config: MirrorConfig | undefined, reference: ImageReference): MirrorSource[] {
  if (config === undefined) return [];
  const name = `${reference.registry}/${reference.repository}`;
  let best: string | undefined;
  for (const prefix of Object.keys(config)) {
    if ((name === prefix || name.startsWith(`${prefix}/`)) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  if (best === undefined) return [];
  const rest = name.slice(best.length + 1);
  const byDigest = reference.digest !== undefined;
  return (config[best] ?? [])
    .filter(({ pullFromMirror = 'all' }) => pullFromMirror === 'all' || (pullFromMirror === 'digest-only') === byDigest)
    .map((mirror) => {
      const slash = mirror.location.indexOf('/');
      const host = slash < 0 ? mirror.location : mirror.location.slice(0, slash);
      const path = slash < 0 ? '' : mirror.location.slice(slash + 1);
      return { mirror, host, repository: [path, rest].filter((part) => part !== '').join('/') };
    });
}
