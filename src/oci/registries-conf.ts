// The mirror part of containers-registries.conf(5) (version 2, TOML): `[[registry]]` tables with
// `prefix`/`location`, their `[[registry.mirror]]` tables with `location`, `insecure` and
// `pull-from-mirror`, and the older `mirror-by-digest-only`. Only the TOML this file format uses is
// read (tables, arrays of tables, strings, booleans, string arrays); anything else is refused by
// name rather than ignored, since an ignored line could send a pull somewhere unintended.
import { MIRROR_PULL_POLICIES, validLocation, type MirrorConfig, type MirrorPullPolicy, type RegistryMirror } from './mirrors.ts';

type Value = string | boolean | string[];

interface Table {
  header: string;
  line: number;
  values: Map<string, { value: Value; line: number }>;
}

/** Keys about short names and search: they do not change where a fully qualified image comes from. */
const IGNORED_TOP_LEVEL = new Set(['unqualified-search-registries', 'short-name-mode', 'credential-helpers']);

function parseValue(text: string): Value | undefined {
  if (text === 'true' || text === 'false') return text === 'true';
  const string = /^"((?:[^"\\]|\\.)*)"$|^'([^']*)'$/.exec(text);
  if (string !== null) return string[2] ?? JSON.parse(`"${string[1] ?? ''}"`);
  const array = /^\[(.*)\]$/.exec(text);
  if (array === null) return undefined;
  const items = (array[1] ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  const strings = items.map(parseValue);
  return strings.every((item): item is string => typeof item === 'string') ? strings : undefined;
}

/** Strips a `#` comment that is not inside a quoted string. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') index++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '#') return line.slice(0, index);
  }
  return line;
}

function tables(text: string): Table[] | string {
  const result: Table[] = [{ header: '', line: 0, values: new Map() }];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = stripComment(raw).trim();
    const number = index + 1;
    if (line === '') continue;
    const header = /^(\[\[?)\s*([A-Za-z0-9_.-]+)\s*(\]\]?)$/.exec(line);
    if (header !== null) {
      result.push({ header: header[1] === '[[' ? `[[${header[2] ?? ''}]]` : `[${header[2] ?? ''}]`, line: number, values: new Map() });
      continue;
    }
    const pair = /^("?)([A-Za-z0-9_-]+)\1\s*=\s*(.+)$/.exec(line);
    const value = pair === null ? undefined : parseValue(pair[3] ?? '');
    if (pair === null || value === undefined) return `line ${number}: cannot read '${line.slice(0, 80)}' (only strings, booleans and string arrays are understood)`;
    result[result.length - 1]?.values.set(pair[2] ?? '', { value, line: number });
  }
  return result;
}

function stringValue(table: Table, key: string): string | undefined | Error {
  const entry = table.values.get(key);
  if (entry === undefined) return undefined;
  return typeof entry.value === 'string' ? entry.value : new Error(`line ${entry.line}: ${key} must be a string`);
}

function booleanValue(table: Table, key: string): boolean | undefined | Error {
  const entry = table.values.get(key);
  if (entry === undefined) return undefined;
  return typeof entry.value === 'boolean' ? entry.value : new Error(`line ${entry.line}: ${key} must be true or false`);
}

function unknownKeys(table: Table, known: readonly string[]): string | undefined {
  for (const [key, { line }] of table.values) if (!known.includes(key)) return `line ${line}: ${key} in ${table.header || 'the top level'} is not supported by ocinit`;
  return undefined;
}

/** The mirrors a registries.conf names, or a problem (with its line) as a string. */
export function parseRegistriesConf(text: string): MirrorConfig | string {
  const parsed = tables(text);
  if (typeof parsed === 'string') return parsed;
  const config: MirrorConfig = {};
  let current: { prefix: string; digestOnly: boolean } | undefined;
  for (const table of parsed) {
    if (table.header === '') {
      const unknown = unknownKeys(table, [...IGNORED_TOP_LEVEL]);
      if (unknown !== undefined) return unknown;
    } else if (table.header === '[aliases]') {
      // Short-name aliases: a fully qualified reference never consults them.
    } else if (table.header === '[[registry]]') {
      const unknown = unknownKeys(table, ['prefix', 'location', 'mirror-by-digest-only', 'insecure', 'blocked']);
      if (unknown !== undefined) return unknown;
      const prefix = stringValue(table, 'prefix');
      const location = stringValue(table, 'location');
      const digestOnly = booleanValue(table, 'mirror-by-digest-only');
      for (const value of [prefix, location, digestOnly]) if (value instanceof Error) return value.message;
      if (table.values.has('insecure') || table.values.has('blocked')) {
        return `line ${table.line}: insecure and blocked on a [[registry]] are not supported by ocinit (use --tls-verify=false, or insecure on a mirror)`;
      }
      const name = (typeof prefix === 'string' ? prefix : typeof location === 'string' ? location : '').replace(/\/+$/, '');
      if (name === '') return `line ${table.line}: a [[registry]] needs a prefix or a location`;
      if (name.includes('*')) return `line ${table.line}: wildcard prefixes are not supported by ocinit`;
      if (!validLocation(name)) return `line ${table.line}: '${name}' is not a registry (HOST[:PORT][/NAMESPACE])`;
      if (typeof location === 'string' && typeof prefix === 'string' && location.replace(/\/+$/, '') !== name) {
        return `line ${table.line}: a location (${location}) other than the prefix (${prefix}) rewrites the registry; ocinit only adds mirrors`;
      }
      current = { prefix: name, digestOnly: digestOnly === true };
    } else if (table.header === '[[registry.mirror]]') {
      if (current === undefined) return `line ${table.line}: [[registry.mirror]] before any [[registry]]`;
      const unknown = unknownKeys(table, ['location', 'insecure', 'pull-from-mirror']);
      if (unknown !== undefined) return unknown;
      const location = stringValue(table, 'location');
      const insecure = booleanValue(table, 'insecure');
      const policy = stringValue(table, 'pull-from-mirror');
      for (const value of [location, insecure, policy]) if (value instanceof Error) return value.message;
      if (typeof location !== 'string' || location === '') return `line ${table.line}: a mirror needs a location`;
      if (!validLocation(location)) return `line ${table.line}: '${location}' is not a mirror location (HOST[:PORT][/PREFIX])`;
      const pullFromMirror = policy === undefined ? (current.digestOnly ? 'digest-only' : undefined) : MIRROR_PULL_POLICIES.find((candidate: MirrorPullPolicy) => candidate === policy);
      if (policy !== undefined && pullFromMirror === undefined) return `line ${table.line}: pull-from-mirror takes ${MIRROR_PULL_POLICIES.join(', ')}`;
      const mirror: RegistryMirror = { location: location.replace(/\/+$/, ''), insecure: insecure === true, ...(pullFromMirror === undefined ? {} : { pullFromMirror }) };
      (config[current.prefix] ??= []).push(mirror);
    } else return `line ${table.line}: ${table.header} is not supported by ocinit`;
  }
  return config;
}
