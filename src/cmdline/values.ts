import { isIP } from 'node:net';
import { Secret } from '../log/secret.ts';

/** Reports problems about one value; parsers call it and return undefined instead of throwing. */
export interface ValueContext {
  /** Canonical parameter name, e.g. `b2c.container`. */
  readonly parameter: string;
  /** Token index in the line. */
  readonly position: number;
  /** The launcher's environment (for `--env NAME`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  problem(message: string, hint?: string): void;
  warning(message: string, hint?: string): void;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `512`, `64k`, `8g`, `8G`, `1.5GiB`, `2MB`: binary units, like podman and fallocate's K/M/G. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (match === null) return undefined;
  const [, amount = '', unit = ''] = match;
  const multiplier = SIZE_UNITS[unit.toLowerCase()];
  if (multiplier === undefined) return undefined;
  const bytes = Math.floor(Number(amount) * multiplier);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function parseBoolean(text: string): boolean | undefined {
  switch (text.toLowerCase()) {
    case '1':
    case 'true':
    case 'yes':
    case 'on':
      return true;
    case '0':
    case 'false':
    case 'no':
    case 'off':
      return false;
    default:
      return undefined;
  }
}

export function parseInteger(text: string, min: number, max: number): number | undefined {
  if (!/^-?\d+$/.test(text.trim())) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

export function parseNonNegativeNumber(text: string): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export function isIpAddress(text: string): boolean {
  return isIP(text) !== 0;
}

/** `10.0.0.2/24`, `fd00::2/64`. */
export function isCidr(text: string): boolean {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const family = isIP(address);
  const length = parseInteger(text.slice(slash + 1), 0, family === 6 ? 128 : 32);
  return family !== 0 && length !== undefined;
}

/** RFC 1123 host name (labels of letters, digits and hyphens), or an IP address. */
export function isHostName(text: string): boolean {
  if (isIpAddress(text)) return true;
  if (text.length === 0 || text.length > 253) return false;
  return text.split('.').every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

export function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const { protocol } = new URL(text);
  return protocol === 'http:' || protocol === 'https:';
}

/**
 * Registers the password of `user:password@` URLs as a secret, so that the logger and
 * `ocinit cmdline` print the URL with *** in its place.
 */
export function protectUrlCredentials(text: string): void {
  for (const candidate of text.split(/[,=]/)) {
    if (!URL.canParse(candidate)) continue;
    const { password } = new URL(candidate);
    if (password !== '') {
      void new Secret(password);
      void new Secret(decodeURIComponent(password));
    }
  }
}

/** One `key[=value]` item of a comma-separated option list such as a b2c.volume value. */
export interface OptionItem {
  key: string;
  value: string | undefined;
}

/** `NAME,k1=v1,flag,k2=v2` → name and items. Empty items (`a,,b`) are skipped. */
export function splitNamedOptions(text: string, separator = ','): { name: string; items: OptionItem[] } {
  const [name = '', ...rest] = text.split(separator);
  return { name, items: parseOptionItems(rest) };
}

export function parseOptionItems(parts: string[]): OptionItem[] {
  const items: OptionItem[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals < 0) items.push({ key: part, value: undefined });
    else items.push({ key: part.slice(0, equals), value: part.slice(equals + 1) });
  }
  return items;
}

/** The candidate closest to `name` when it is a plausible typo (edit distance ≤ 2), for hints. */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  // Typos are short; a huge garbage key would only cost time.
  if (name.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** "did you mean X?" or undefined. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const closest = closestName(name, candidates);
  return closest === undefined ? undefined : `did you mean '${closest}'?`;
}
