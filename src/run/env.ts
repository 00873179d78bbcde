import type { EnvEntry } from '../cmdline/plan.ts';

/** `--env-file` content: `NAME=VALUE` lines, `#` comments; a bare `NAME` takes the launcher's value. */
export function parseEnvFile(text: string, hostEnv: Readonly<Record<string, string | undefined>>): EnvEntry[] {
  const entries: EnvEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals < 0) {
      const name = line.trim();
      const value = hostEnv[name];
      if (value !== undefined) entries.push({ name, value });
    } else {
      entries.push({ name: line.slice(0, equals).trim(), value: line.slice(equals + 1) });
    }
  }
  return entries;
}

/** `K=V` strings as in an image config. */
export function parseEnvList(list: readonly string[] | undefined): EnvEntry[] {
  return (list ?? []).flatMap((item) => {
    const equals = item.indexOf('=');
    return equals <= 0 ? [] : [{ name: item.slice(0, equals), value: item.slice(equals + 1) }];
  });
}

/** Later layers override earlier ones; the first-seen order of names is kept. */
export function mergeEnvironment(...layers: readonly EnvEntry[][]): string[] {
  const merged = new Map<string, string>();
  for (const layer of layers) for (const { name, value } of layer) merged.set(name, value);
  return [...merged].map(([name, value]) => `${name}=${value}`);
}
