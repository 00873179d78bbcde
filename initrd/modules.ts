// Pure logic over a kernel's modules.dep / modules.alias / modules.builtin, for the initramfs build.

/** Module name as modprobe sees it: file name without `.ko[.xz|.zst|.gz]`, dashes as underscores. */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|zst|gz))?$/, '');
  return base.replaceAll('-', '_');
}

/** `kernel/a.ko: kernel/b.ko kernel/c.ko` lines → file → its dependency files. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const file = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    result.set(file, deps);
  }
  return result;
}

/**
 * `softdep MODULE pre: A B post: C` lines of modules.softdep → module name → the names it wants
 * loaded with it (module names or aliases such as `crypto-crc32c`), before or after alike.
 */
export function parseSoftdeps(text: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [keyword, module, ...rest] = line.trim().split(/\s+/);
    if (keyword !== 'softdep' || module === undefined) continue;
    const names = rest.filter((word) => word !== 'pre:' && word !== 'post:');
    result.set(moduleName(module), [...(result.get(moduleName(module)) ?? []), ...names]);
  }
  return result;
}

/** Exact (wildcard-free) `alias NAME module` lines of modules.alias → alias → module names. */
export function parseExactAliases(text: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [keyword, alias, module] = line.trim().split(/\s+/);
    if (keyword !== 'alias' || alias === undefined || module === undefined || /[*?[]/.test(alias)) continue;
    result.set(alias, [...(result.get(alias) ?? []), moduleName(module)]);
  }
  return result;
}

/** What modprobe also loads with a module, besides modules.dep: its softdeps, resolved through aliases. */
export interface SoftDependencies {
  softdeps: Map<string, string[]>;
  aliases: Map<string, string[]>;
}

/**
 * The files needed to load `wanted` modules: each one and, transitively, its dependencies and soft
 * dependencies (ext4 wants crypto-crc32c: crc32c_generic and crc32c_intel), in modules.dep order.
 * Names built into the kernel need no file; wanted names found nowhere are `missing`.
 */
export function moduleClosure(
  dependencies: Map<string, string[]>,
  wanted: readonly string[],
  builtin: string,
  soft: SoftDependencies = { softdeps: new Map(), aliases: new Map() },
): { files: string[]; missing: string[] } {
  const byName = new Map<string, string>();
  for (const file of dependencies.keys()) byName.set(moduleName(file), file);
  const builtinNames = new Set(builtin.split('\n').filter(Boolean).map(moduleName));
  const needed = new Set<string>();
  const missing: string[] = [];
  const visit = (file: string): void => {
    if (needed.has(file)) return;
    needed.add(file);
    for (const dep of dependencies.get(file) ?? []) visit(dep);
    for (const name of soft.softdeps.get(moduleName(file)) ?? []) {
      const normalised = name.replaceAll('-', '_');
      const candidates = byName.has(normalised) ? [normalised] : (soft.aliases.get(name) ?? []);
      for (const candidate of candidates) {
        const softFile = byName.get(candidate);
        if (softFile !== undefined) visit(softFile);
      }
    }
  };
  for (const name of wanted) {
    const normalised = name.replaceAll('-', '_');
    const file = byName.get(normalised);
    if (file !== undefined) visit(file);
    else if (!builtinNames.has(normalised)) missing.push(name);
  }
  return { files: [...dependencies.keys()].filter((file) => needed.has(file)), missing };
}

/** Keeps the `alias PATTERN module` lines of modules.alias whose module is among `files`. */
export function filterAliases(text: string, files: readonly string[]): string {
  const names = new Set(files.map(moduleName));
  return text
    .split('\n')
    .filter((line) => {
      const words = line.split(/\s+/);
      return words[0] === 'alias' && words[2] !== undefined && names.has(words[2].replaceAll('-', '_'));
    })
    .map((line) => `${line}\n`)
    .join('');
}
