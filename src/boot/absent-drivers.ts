// Which device needs a module the initramfs left out: the builder lists the aliases of the
// hardware modules it did not carry (modules.alias.absent); devices matching one are named.

/** modules.alias patterns are fnmatch globs: `*`, `?` and `[...]`. */
function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index] ?? '';
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '[') {
      const end = pattern.indexOf(']', index + 1);
      if (end < 0) source += '\\[';
      else {
        source += `[${pattern.slice(index + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        index = end;
      }
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export interface AbsentDriver {
  modalias: string;
  module: string;
}

/** The devices among `modaliases` that a left-out module would drive, with that module. */
export function absentDrivers(modaliases: readonly string[], absentAliasText: string): AbsentDriver[] {
  const byPrefix = new Map<string, { pattern: RegExp; module: string }[]>();
  for (const line of absentAliasText.split('\n')) {
    const [keyword, alias, module] = line.trim().split(/\s+/);
    if (keyword !== 'alias' || alias === undefined || module === undefined) continue;
    const prefix = alias.slice(0, alias.indexOf(':') + 1);
    byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), { pattern: globToRegExp(alias), module }]);
  }
  const found: AbsentDriver[] = [];
  for (const modalias of modaliases) {
    const candidates = byPrefix.get(modalias.slice(0, modalias.indexOf(':') + 1)) ?? [];
    const match = candidates.find((candidate) => candidate.pattern.test(modalias));
    if (match !== undefined) found.push({ modalias, module: match.module });
  }
  return found;
}

export function describeAbsentDriver(absent: AbsentDriver): string {
  return `no driver for device ${absent.modalias}: it needs kernel module ${absent.module}, which this initramfs does not carry; build it with make initrd DRIVERS=all (or add ${absent.module} to initrd/modules.txt)`;
}
