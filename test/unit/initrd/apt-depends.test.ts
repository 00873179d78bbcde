import { describe, expect, it } from 'vitest';
import { dependencyClosure, parseCandidates, parseDepends } from '../../../initrd/apt-depends.ts';

function only(stanzas: Map<string, string[]>): string[] | undefined {
  expect(stanzas.size).toBe(1);
  return [...stanzas.values()][0];
}

describe('parseDepends', () => {
  it('takes Depends and PreDepends, and leaves Breaks, Conflicts and Replaces out', () => {
    const text = ['e2fsprogs', '  PreDepends: libblkid1', '  Depends: logsave', '  Breaks: e2fsck-static', '  Conflicts: foo', '  Replaces: hurd'].join('\n');
    expect(only(parseDepends(text))).toEqual(['libblkid1', 'logsave']);
  });

  it('takes the first of a group of alternatives', () => {
    const text = ['tar', '  |Depends: libacl1', '  Depends: libacl1-alt', '  Depends: libc6'].join('\n');
    expect(only(parseDepends(text))).toEqual(['libacl1', 'libc6']);
  });

  it('takes a real package as named, not the others that provide it', () => {
    // apt-cache lists the providers of a real package under it: libelogind0 also provides libsystemd0.
    const text = ['crun', '  Depends: libc6', '  Depends: libsystemd0', '    libelogind0', '  Depends: libyajl2'].join('\n');
    expect(only(parseDepends(text))).toEqual(['libc6', 'libsystemd0', 'libyajl2']);
  });

  it('takes the first provider of a virtual package', () => {
    const text = ['foo', '  Depends: <awk>', '    mawk', '    gawk', '  Depends: libc6'].join('\n');
    expect(only(parseDepends(text))).toEqual(['mawk', 'libc6']);
  });

  it('answers for each stanza of a call that named several packages', () => {
    const text = ['crun', '  Depends: libc6', '  |Depends: libsystemd0', 'libc6', '  Depends: libgcc-s1', 'libgcc-s1', '  Depends: libc6'].join('\n');
    expect(parseDepends(text)).toEqual(new Map([['crun', ['libc6', 'libsystemd0']], ['libc6', ['libgcc-s1']], ['libgcc-s1', ['libc6']]]));
  });

  it('does not take the provider listed under a Suggests', () => {
    const text = ['libc6', '  Depends: libgcc-s1', '  Suggests: <debconf-2.0>', '    cdebconf'].join('\n');
    expect(only(parseDepends(text))).toEqual(['libgcc-s1']);
  });
});

describe('dependencyClosure', () => {
  it('asks about every package once, a level at a time, cycles included, and sorts the result', () => {
    const graph: Record<string, string[]> = { crun: ['libc6', 'libsystemd0'], libsystemd0: ['libc6', 'liblz4-1'], libc6: ['libgcc-s1'], 'libgcc-s1': ['libc6'], 'liblz4-1': [] };
    const asked: string[][] = [];
    const closure = dependencyClosure(['crun'], (names) => {
      asked.push([...names].sort());
      return new Map(names.map((name) => [name, graph[name] ?? []]));
    });
    expect(closure).toEqual(['crun', 'libc6', 'libgcc-s1', 'liblz4-1', 'libsystemd0']);
    expect(asked).toEqual([['crun'], ['libc6', 'libsystemd0'], ['libgcc-s1', 'liblz4-1']]);
  });
});

describe('parseCandidates', () => {
  it('reads each package candidate version, with or without an architecture qualifier, and leaves (none) out', () => {
    const text = ['crun:', '  Installed: (none)', '  Candidate: 1.8.1-1+deb12u1', '  Version table:', '     1.8.1-1+deb12u1 500', 'libc6:arm64:', '  Installed: (none)', '  Candidate: 2.36-9+deb12u14', 'gone:', '  Installed: (none)', '  Candidate: (none)'].join('\n');
    expect(parseCandidates(text)).toEqual(new Map([['crun', '1.8.1-1+deb12u1'], ['libc6', '2.36-9+deb12u14']]));
  });
});
