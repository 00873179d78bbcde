// Which kernel modules the hardware present asks for: each device's modalias matched against the
// glob patterns of modules.alias, as udev/mdev coldplug does.

export interface AliasRule {
  pattern: RegExp;
  module: string;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index] ?? '';
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '[') {
      const close = glob.indexOf(']', index + 1);
      if (close === -1) source += '\\[';
      else {
        const body = glob.slice(index + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        index = close;
      }
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Parses `alias PATTERN MODULE` lines; other lines are ignored. */
export function parseModulesAlias(text: string): AliasRule[] {
  const rules: AliasRule[] = [];
  for (const line of text.split('\n')) {
    const [keyword, pattern, module] = line.trim().split(/\s+/);
    if (keyword !== 'alias' || pattern === undefined || module === undefined) continue;
    rules.push({ pattern: globToRegExp(pattern), module });
  }
  return rules;
}

/** The modules whose aliases match any of `modaliases`, each once, in rule order. */
export function modulesForAliases(rules: readonly AliasRule[], modaliases: readonly string[]): string[] {
  const wanted = new Set<string>();
  for (const rule of rules) {
    if (wanted.has(rule.module)) continue;
    if (modaliases.some((alias) => rule.pattern.test(alias))) wanted.add(rule.module);
  }
  return [...wanted];
}
