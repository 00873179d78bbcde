import { describe, expect, test } from 'vitest';
import { decideMirror, excluder, formatAttributes, keyFor, parseAttributes, pathFor, safeRelativePath, type MirrorEntry } from '../../../src/volumes/mirror.ts';

const entry = (path: string, size: number, mtimeMs: number): MirrorEntry => ({ path, size, mtimeMs });
const rules = { overwrite: false, remove: false, exclude: [] as string[] };

describe('decideMirror', () => {
  const source = [entry('a', 1, 100), entry('b', 2, 100), entry('c', 3, 500), entry('d/e', 4, 100)];
  const target = [entry('a', 1, 200), entry('b', 5, 200), entry('c', 3, 200), entry('gone', 1, 100)];

  test('new files go, files of the same size at least as new stay, differing ones are conflicts without overwrite', () => {
    expect(decideMirror(source, target, rules)).toEqual({ transfer: ['d/e'], remove: [], conflicts: ['b', 'c'], unchanged: 1 });
  });

  test('overwrite sends the differing files too (other size, or newer source)', () => {
    expect(decideMirror(source, target, { ...rules, overwrite: true })).toMatchObject({ transfer: ['b', 'c', 'd/e'], conflicts: [] });
  });

  test('remove deletes what the source lacks, but never an excluded target file', () => {
    expect(decideMirror(source, target, { ...rules, remove: true }).remove).toEqual(['gone']);
    expect(decideMirror(source, target, { ...rules, remove: true, exclude: ['gon?'] }).remove).toEqual([]);
  });

  test('excluded source files are not transferred', () => {
    expect(decideMirror(source, [], { ...rules, exclude: ['d/*', 'b'] }).transfer).toEqual(['a', 'c']);
  });

  test('an identical tree transfers nothing', () => {
    expect(decideMirror(source, source, { overwrite: true, remove: true, exclude: [] })).toEqual({ transfer: [], remove: [], conflicts: [], unchanged: 4 });
  });
});

describe('excluder', () => {
  test('* crosses slashes, ? is one character, base names match too', () => {
    const excluded = excluder(['*.tmp', 'logs/*', 'core.?']);
    expect(['x.tmp', 'deep/dir/x.tmp', 'logs/a/b', 'core.1', 'sub/core.2'].every(excluded)).toBe(true);
    expect(['x.tmpl', 'mylogs/a', 'core.12', 'results.json'].some(excluded)).toBe(false);
  });

  test('regular expression characters in a pattern are literal', () => {
    expect(excluder(['a+b(1).txt'])('a+b(1).txt')).toBe(true);
    expect(excluder(['a.txt'])('abtxt')).toBe(false);
  });
});

describe('keys and paths', () => {
  test('a PATH prefix is joined with one slash and stripped back', () => {
    expect(keyFor('', 'f')).toBe('f');
    expect(keyFor('/jobs/42/', 'out/f')).toBe('jobs/42/out/f');
    expect(pathFor('jobs/42', 'jobs/42/out/f')).toBe('out/f');
    expect(pathFor('jobs/42', 'jobs/420/f')).toBeUndefined();
  });

  test('keys that would leave the volume are refused', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'dir/', '.', 'a/./b']) expect(safeRelativePath(bad)).toBeUndefined();
    expect(safeRelativePath('a/b.c/..d')).toBe('a/b.c/..d');
  });
});

describe('mc-attrs', () => {
  test('round-trip, and unknown or broken fields are skipped', () => {
    const text = formatAttributes({ mode: 0o100755, mtimeSeconds: 1_700_000_000, uid: 1000, gid: 1000 });
    expect(text).toBe('gid:1000#mode:33261#mtime:1700000000#uid:1000');
    expect(parseAttributes(text)).toEqual({ mode: 0o100755, mtimeSeconds: 1_700_000_000, uid: 1000, gid: 1000 });
    expect(parseAttributes('atime:5#mode:x#uidname:root#mtime:7')).toEqual({ mtimeSeconds: 7 });
  });
});
