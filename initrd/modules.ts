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
 * The files needed to load `wanted` modules: each one and, transitively, its dependencies, in
 * modules.dep order. Names built into the kernel need no file; names found nowhere are `missing`.
 */
export function moduleClosure(dependencies: Map<string, string[]>, wanted: readonly string[], builtin: string): { files: string[]; missing: string[] } {
  const byName = new Map<string, string>();
  for (const file of dependencies.keys()) byName.set(moduleName(file), file);
  const builtinNames = new Set(builtin.split('\n').filter(Boolean).map(moduleName));
  const needed = new Set<string>();
  const missing: string[] = [];
  const visit = (file: string): void => {
    if (needed.has(file)) return;
    needed.add(file);
    for (const dep of dependencies.get(file) ?? []) visit(dep);
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
