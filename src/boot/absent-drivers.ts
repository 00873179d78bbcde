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

interface AbsentAlias {
  /** The pattern's text before its first wildcard: a cheap test that rules most patterns out. */
  literal: string;
  pattern: string;
  module: string;
}

/**
 * modules.alias.absent, parsed once. Only the patterns whose literal start matches a device get
 * compiled: compiling the 3000 of DRIVERS=qemu for every device cost over a second under TCG.
 */
export function parseAbsentAliases(text: string): AbsentAlias[] {
  const aliases: AbsentAlias[] = [];
  for (const line of text.split('\n')) {
    const [keyword, pattern, module] = line.trim().split(/\s+/);
    if (keyword !== 'alias' || pattern === undefined || module === undefined) continue;
    const wildcard = pattern.search(/[*?[]/);
    aliases.push({ literal: wildcard < 0 ? pattern : pattern.slice(0, wildcard), pattern, module });
  }
  return aliases;
}

const compiledPatterns = new Map<string, RegExp>();

function compiled(pattern: string): RegExp {
  let regExp = compiledPatterns.get(pattern);
  if (regExp === undefined) {
    regExp = globToRegExp(pattern);
    compiledPatterns.set(pattern, regExp);
  }
  return regExp;
}

export interface AbsentDriver {
  modalias: string;
  /** Each left-out module that matches (the rtl8139 matches both 8139cp and 8139too). */
  modules: string[];
}

/** The devices among `modaliases` that a left-out module would drive, with that module. */
export function absentDrivers(modaliases: readonly string[], absent: readonly AbsentAlias[]): AbsentDriver[] {
  const found: AbsentDriver[] = [];
  for (const modalias of modaliases) {
    const modules = absent.filter((alias) => modalias.startsWith(alias.literal) && compiled(alias.pattern).test(modalias)).map((alias) => alias.module);
    if (modules.length > 0) found.push({ modalias, modules: [...new Set(modules)] });
  }
  return found;
}

export function describeAbsentDriver(absent: AbsentDriver): string {
  const modules = absent.modules.join(' or ');
  return `no driver for device ${absent.modalias}: it needs kernel module ${modules}, which this initramfs does not carry; build it with make initrd DRIVERS=all (or add ${modules} to initrd/modules.txt)`;
}
