// Pure logic over `apt-cache depends` output, for gathering a foreign architecture's packages.

/**
 * The packages each stanza of `apt-cache depends --no-recommends --no-suggests ... PACKAGE...` depends on
 * (Depends and PreDepends), the first of each group of alternatives, and for a virtual package the
 * first package that provides it (so that `libsystemd0 | libelogind0` brings libsystemd0 alone:
 * two packages shipping the same library must never both land in the sysroot).
 */
export function parseDepends(text: string): Map<string, string[]> {
  const stanzas = new Map<string, string[]>();
  let result: string[] = [];
  let choosing = false; // inside a `|Depends:` group whose first member is already taken
  let wantProvider = false; // the last dependency named a virtual package: take its first provider
  for (const line of text.split('\n')) {
    const stanza = /^(\S+)$/.exec(line)?.[1];
    if (stanza !== undefined) {
      result = [];
      stanzas.set(stanza, result);
      choosing = false;
      wantProvider = false;
      continue;
    }
    const dependency = /^ {2}(\|)?(Pre)?Depends: (\S+)/.exec(line);
    if (dependency !== null) {
      const [, alternative, , name] = dependency;
      const first = !choosing;
      choosing = alternative === '|';
      wantProvider = false;
      if (!first || name === undefined) continue;
      if (name.startsWith('<')) wantProvider = true;
      else if (!result.includes(name)) result.push(name);
      continue;
    }
    const provider = /^ {4}(\S+)$/.exec(line);
    if (provider?.[1] !== undefined && wantProvider) {
      if (!result.includes(provider[1])) result.push(provider[1]);
      wantProvider = false;
      continue;
    }
    if (/^ {2}\S/.test(line)) {
      choosing = false;
      wantProvider = false;
    }
  }
  return stanzas;
}

/**
 * Every package `roots` need, sorted. `dependsOf` answers for a whole level at once (one
 * `apt-cache depends` call costs a second of loading apt's cache, whatever it asks).
 */
export function dependencyClosure(roots: readonly string[], dependsOf: (names: string[]) => Map<string, string[]>): string[] {
  const seen = new Set<string>();
  for (let level = [...new Set(roots)]; level.length > 0; ) {
    for (const name of level) seen.add(name);
    const answers = dependsOf(level);
    level = [...new Set(level.flatMap((name) => answers.get(name) ?? []))].filter((name) => !seen.has(name));
  }
  return [...seen].sort();
}

/** `apt-cache policy PACKAGE...` → package → its candidate version (none for `(none)`). */
export function parseCandidates(text: string): Map<string, string> {
  const result = new Map<string, string>();
  let name: string | undefined;
  for (const line of text.split('\n')) {
    const stanza = /^(\S+):$/.exec(line)?.[1];
    if (stanza !== undefined) name = stanza.replace(/:[a-z0-9]+$/, '');
    const candidate = /^ {2}Candidate: (\S+)$/.exec(line)?.[1];
    if (candidate !== undefined && name !== undefined && candidate !== '(none)') result.set(name, candidate);
  }
  return result;
}
