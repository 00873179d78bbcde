import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerApplier, UnpackState, type UnpackLimits } from '../../../src/oci/unpack-layer.ts';
import { TarReader } from '../../../src/oci/tar.ts';
import { rawTar, type RawEntry } from '../../support/tar.ts';

let work: string;
let root: string;
let outside: string;

/** Everything outside the root, to prove it was not touched. */
function snapshotOutside(): string {
  return execFileSync('find', [outside, '-printf', '%p %y %m %n %s %l\\n'], { encoding: 'utf8' });
}

async function apply(layers: Buffer[], limits?: UnpackLimits): Promise<void> {
  const state = new UnpackState(root, limits);
  for (const tar of layers) {
    const applier = new LayerApplier(state);
    const reader = new TarReader(applier);
    // Feed in odd-sized pieces so that headers and data straddle chunk boundaries.
    for (let offset = 0; offset < tar.length; offset += 777) await reader.write(tar.subarray(offset, offset + 777));
    await applier.settle();
    reader.end();
  }
  state.finish();
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-unpack-'));
  root = join(work, 'root');
  outside = join(work, 'outside');
  mkdirSync(root);
  mkdirSync(join(outside, 'dir'), { recursive: true });
  writeFileSync(join(outside, 'victim'), 'precious');
  writeFileSync(join(outside, 'dir', 'victim'), 'precious');
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('layer entries', () => {
  it('creates every entry type with its metadata', async () => {
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    await apply([
      rawTar([
        { name: 'dir/', type: '5', mode: 0o2750, uid: 12, gid: 34, mtime: 1_000_000_000 },
        { name: 'dir/file', data: 'hello', mode: 0o6755, uid: 56, gid: 78, mtime: 1_100_000_000 },
        { name: 'dir/link', type: '2', linkname: '../no/such/../target', uid: 9, gid: 9 },
        { name: 'dir/hard', type: '1', linkname: 'dir/file' },
        { name: 'dev/null', type: '3', devMajor: 1, devMinor: 3, mode: 0o666 },
        { name: 'dev/loop0', type: '4', devMajor: 7, devMinor: 0, mode: 0o660 },
        { name: 'fifo', type: '6', mode: 0o600 },
        { name: 'ping', data: 'x', mode: 0o755, uid: 5, pax: { 'SCHILY.xattr.security.capability': capability, 'SCHILY.xattr.user.note': 'hi' } },
        { name: 'long/' + 'n'.repeat(200), data: 'pax long name', pax: { path: 'long/' + 'n'.repeat(200) } },
      ]),
    ]);
    const dir = lstatSync(join(root, 'dir'));
    expect([dir.isDirectory(), dir.mode & 0o7777, dir.uid, dir.gid, dir.mtimeMs]).toEqual([true, 0o2750, 12, 34, 1_000_000_000_000]);
    const file = lstatSync(join(root, 'dir/file'));
    expect([file.mode & 0o7777, file.uid, file.gid, file.mtimeMs, file.nlink]).toEqual([0o6755, 56, 78, 1_100_000_000_000, 2]);
    expect(readlinkSync(join(root, 'dir/link'))).toBe('../no/such/../target');
    expect(lstatSync(join(root, 'dir/link')).uid).toBe(9);
    expect(lstatSync(join(root, 'dir/hard')).ino).toBe(file.ino);
    const nullDevice = lstatSync(join(root, 'dev/null'));
    expect([nullDevice.isCharacterDevice(), nullDevice.rdev, nullDevice.mode & 0o777]).toEqual([true, 259, 0o666]);
    expect(lstatSync(join(root, 'dev/loop0')).isBlockDevice()).toBe(true);
    expect(lstatSync(join(root, 'fifo')).isFIFO()).toBe(true);
    expect(execFileSync('getfattr', ['-e', 'hex', '-n', 'security.capability', join(root, 'ping')], { encoding: 'utf8' })).toContain(`0x${capability.toString('hex')}`);
    expect(execFileSync('getfattr', ['-n', 'user.note', join(root, 'ping')], { encoding: 'utf8' })).toContain('user.note="hi"');
    expect(lstatSync(join(root, 'ping')).uid).toBe(5);
    expect(readFileSync(join(root, 'long', 'n'.repeat(200)), 'utf8')).toBe('pax long name');
  });

  it('gives entries owned by 0:0 that owner in a setgid directory of another group, in any layer', async () => {
    await apply([
      rawTar([
        { name: 'shared/', type: '5', mode: 0o2775, gid: 50 },
        { name: 'shared/file', data: 'x' },
      ]),
      rawTar([{ name: 'shared/link', type: '2', linkname: 'file' }]),
    ]);
    for (const name of ['shared/file', 'shared/link']) expect([name, lstatSync(join(root, name)).gid]).toEqual([name, 0]);
    expect(lstatSync(join(root, 'shared')).gid).toBe(50);
  });

  it('applies whiteouts and opaque directories to lower layers only', async () => {
    await apply([
      rawTar([
        { name: 'a/keep', data: '1' },
        { name: 'a/gone', data: '2' },
        { name: 'a/sub/deep', data: '3' },
        { name: 'o/lower', data: '4' },
        { name: 'o/sub/lower', data: '5' },
      ]),
      rawTar([
        { name: 'a/.wh.gone' },
        { name: 'a/.wh.sub' },
        { name: 'o/sub/upper', data: '6' },
        { name: 'o/.wh..wh..opq' },
        { name: 'o/new', data: '7' },
        { name: 'a/.wh..wh.plnk' },
      ]),
    ]);
    expect(readdirSync(join(root, 'a'))).toEqual(['keep']);
    expect(readdirSync(join(root, 'o')).sort()).toEqual(['new', 'sub']);
    expect(readdirSync(join(root, 'o/sub'))).toEqual(['upper']);
  });

  it('follows symlinks of lower layers inside the root, as the image sees them', async () => {
    await apply([rawTar([{ name: 'usr/lib/', type: '5' }, { name: 'lib', type: '2', linkname: '/usr/lib' }]), rawTar([{ name: 'lib/libc.so', data: 'elf' }])]);
    expect(readFileSync(join(root, 'usr/lib/libc.so'), 'utf8')).toBe('elf');
    expect(readlinkSync(join(root, 'lib'))).toBe('/usr/lib');
  });

  it('replaces a file with a directory and a directory with a file', async () => {
    await apply([rawTar([{ name: 'x', data: 'file' }, { name: 'y/z', data: 'in dir' }]), rawTar([{ name: 'x/', type: '5' }, { name: 'x/inner', data: 'ok' }, { name: 'y', data: 'now a file' }])]);
    expect(readFileSync(join(root, 'x/inner'), 'utf8')).toBe('ok');
    expect(readFileSync(join(root, 'y'), 'utf8')).toBe('now a file');
  });

  it('applies a name written twice in one layer in archive order, whatever the two types', async () => {
    await apply([
      rawTar([
        { name: 'f', data: 'first' },
        { name: 'f', data: 'second', mode: 0o640 },
        { name: 'l', type: '2', linkname: 'f' },
        { name: 'l', data: 'file over symlink' },
        { name: 'd/inner', data: 'x' },
        { name: 'd', data: 'file over directory' },
        { name: 's', data: 'x' },
        { name: 's/', type: '5', mode: 0o750 },
        { name: 'h', data: 'x' },
        { name: 'h', type: '1', linkname: 'f' },
        { name: 'k/', type: '5', mode: 0o700 },
        { name: 'k/', type: '5', mode: 0o755 },
      ]),
    ]);
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('second');
    expect(lstatSync(join(root, 'f')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(root, 'l'), 'utf8')).toBe('file over symlink');
    expect(lstatSync(join(root, 'l')).isFile()).toBe(true);
    expect(readFileSync(join(root, 'd'), 'utf8')).toBe('file over directory');
    expect(lstatSync(join(root, 's')).isDirectory()).toBe(true);
    expect(lstatSync(join(root, 'h')).ino).toBe(lstatSync(join(root, 'f')).ino);
    expect(lstatSync(join(root, 'k')).mode & 0o777).toBe(0o755);
  });

  it('resolves each entry against the tree as the entries before it left it', async () => {
    // Directories replaced by symlinks and files, and back, between entries of the same layer.
    await apply([
      rawTar([
        { name: 'c/b/', type: '5' },
        { name: 'a/b/one', data: '1' },
        { name: 'a', type: '2', linkname: 'c' },
        { name: 'a/b/two', data: '2' },
        { name: 'c/b', type: '2', linkname: '../d' },
        { name: 'a/b/three', data: '3' },
        { name: 'd', data: 'not a directory' },
        { name: 'd/', type: '5' },
        { name: 'a/b/four', data: '4' },
      ]),
    ]);
    expect(readlinkSync(join(root, 'a'))).toBe('c');
    expect(readdirSync(join(root, 'd'))).toEqual(['four']);
    expect(readFileSync(join(root, 'd/four'), 'utf8')).toBe('4');
    expect(readdirSync(root).sort()).toEqual(['a', 'c', 'd']);
    expect(readlinkSync(join(root, 'c/b'))).toBe('../d');
  });

  it('resolves a directory again after a whiteout removed the symlink it went through', async () => {
    await apply([
      rawTar([{ name: 'c/', type: '5' }, { name: 'l', type: '2', linkname: 'c' }]),
      rawTar([{ name: 'l/one', data: '1' }, { name: '.wh.l' }, { name: 'l/two', data: '2' }]),
    ]);
    expect(readdirSync(join(root, 'c'))).toEqual(['one']);
    expect(lstatSync(join(root, 'l')).isDirectory()).toBe(true);
    expect(readdirSync(join(root, 'l'))).toEqual(['two']);
  });

  it('keeps archive order for device nodes and FIFOs', async () => {
    await apply([
      rawTar([
        { name: 'dev/null', type: '3', devMajor: 1, devMinor: 3, mode: 0o666 },
        { name: 'dev/zero', type: '3', devMajor: 1, devMinor: 5, mode: 0o666 },
        { name: 'dev/zero', data: 'a file now' },
        { name: 'dev/pipe', type: '6', mode: 0o600 },
        { name: 'dev/pipe/', type: '5' },
        { name: 'dev/hard', type: '1', linkname: 'dev/null' },
        { name: 'dev/full', type: '3', devMajor: 1, devMinor: 7 },
        { name: 'dev/.wh.full' },
        { name: 'lower', type: '6' },
        { name: 'via', type: '2', linkname: 'dev' },
        { name: 'via/tty', type: '3', devMajor: 5, devMinor: 0, mode: 0o620, uid: 3, mtime: 1_200_000_000 },
      ]),
      rawTar([{ name: '.wh.lower' }, { name: 'dev/full', data: 'replaced' }]),
    ]);
    const nullDevice = lstatSync(join(root, 'dev/null'));
    expect([nullDevice.isCharacterDevice(), nullDevice.rdev]).toEqual([true, 259]);
    expect(lstatSync(join(root, 'dev/hard')).ino).toBe(nullDevice.ino);
    expect(readFileSync(join(root, 'dev/zero'), 'utf8')).toBe('a file now');
    expect(lstatSync(join(root, 'dev/pipe')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'dev/full'), 'utf8')).toBe('replaced');
    expect(readdirSync(root).sort()).toEqual(['dev', 'via']);
    const tty = lstatSync(join(root, 'dev/tty'));
    expect([tty.isCharacterDevice(), tty.mode & 0o777, tty.uid, tty.mtimeMs]).toEqual([true, 0o620, 3, 1_200_000_000_000]);
  });

  it('fails the layer when a device node cannot be made, even when no later entry waits for it', async () => {
    // Nodes are made in the background while later entries apply: the layer's end must wait for them.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'nr_inodes=3', 'ocinit-test', root]);
    try {
      await expect(apply([rawTar([{ name: 'dev/', type: '5' }, { name: 'dev/null', type: '3', devMajor: 1, devMinor: 3 }, { name: 'dev/zero', type: '3', devMajor: 1, devMinor: 5 }])])).rejects.toThrow(/creating the device nodes and FIFOs dev\/null, dev\/zero failed.*dev\/zero: No space left/s);
    } finally {
      execFileSync('umount', [root]);
    }
  });

  it('refuses a name under a device node of the same layer, as under any non-directory', async () => {
    await expect(apply([rawTar([{ name: 'dev/null', type: '3', devMajor: 1, devMinor: 3 }, { name: 'dev/null/x', data: 'x' }])])).rejects.toThrow("'dev/null' is not a directory");
  });

  it('reads octal fields padded with spaces and NULs, and a checksum summed as signed bytes', async () => {
    // 'é' is two bytes over 127: old tars summed them as negative numbers, 512 less in all.
    await apply([rawTar([{ name: 'café', data: 'x', checksumDelta: -512, patch: { offset: 100, bytes: Buffer.from('  644 \0\0', 'latin1') } }])]);
    expect(lstatSync(join(root, 'café')).mode & 0o7777).toBe(0o644);
  });

  it('checks the checksum of a header whose bytes are all high, the largest sum there is', async () => {
    // The last 12 bytes of a ustar header are padding no reader looks at: 0xff in every byte of three words.
    await apply([rawTar([{ name: 'high', data: 'x', patch: { offset: 500, bytes: Buffer.alloc(12, 0xff) } }])]);
    expect(readdirSync(root)).toEqual(['high']);
    await expect(apply([rawTar([{ name: 'off', data: 'x', checksumDelta: 256, patch: { offset: 500, bytes: Buffer.alloc(12, 0xff) } }])])).rejects.toThrow('bad header checksum');
  });

  it('accepts data after the end-of-archive marker and a missing marker', async () => {
    await apply([Buffer.concat([rawTar([{ name: 'f', data: 'x' }]), Buffer.from('trailing garbage')]), rawTar([{ name: 'g', data: 'y' }], { end: false })]);
    expect(readdirSync(root).sort()).toEqual(['f', 'g']);
  });
});

describe('hostile layers never reach outside the root', () => {
  const escape = (target: string): string => `../${target}`;
  const cases: [string, RawEntry[][], string | undefined][] = [
    ['dot-dot name', [[{ name: '../outside/victim', data: 'owned' }]], "'..'"],
    ['dot-dot inside the name', [[{ name: 'a/../../outside/victim', data: 'owned' }]], "'..'"],
    ['dot-dot in a PAX path', [[{ name: 'innocent', data: 'owned', pax: { path: 'x/../../outside/victim' } }]], "'..'"],
    ['absolute symlink then write through it', [[{ name: 'evil', type: '2', linkname: 'OUTSIDE' }, { name: 'evil/victim', data: 'owned' }]], undefined],
    ['relative symlink climbing out then write', [[{ name: 'up', type: '2', linkname: '../../../../../../OUTSIDE' }, { name: 'up/victim', data: 'owned' }]], undefined],
    ['symlink from a lower layer', [[{ name: 'evil', type: '2', linkname: 'OUTSIDE' }], [{ name: 'evil/dir/victim', data: 'owned' }]], undefined],
    ['file replacing a planted symlink', [[{ name: 'f', type: '2', linkname: 'OUTSIDE/victim' }, { name: 'f', data: 'owned' }]], undefined],
    ['directory entry over a symlink', [[{ name: 'd', type: '2', linkname: 'OUTSIDE/dir' }], [{ name: 'd/', type: '5', mode: 0o777 }]], undefined],
    ['hardlink out with dot-dot', [[{ name: 'h', type: '1', linkname: escape('outside/victim') }]], "'..'"],
    ['hardlink through a symlink', [[{ name: 'evil', type: '2', linkname: 'OUTSIDE' }, { name: 'h', type: '1', linkname: 'evil/victim' }, { name: 'h', data: 'owned' }]], 'does not exist'],
    ['hardlink to an outside symlink then write', [[{ name: 's', type: '2', linkname: 'OUTSIDE/victim' }, { name: 'h', type: '1', linkname: 's' }, { name: 'h', data: 'owned' }]], undefined],
    ['symlink loop', [[{ name: 'a', type: '2', linkname: 'b' }, { name: 'b', type: '2', linkname: 'a' }, { name: 'a/x', data: 'x' }]], 'too many levels'],
    ['whiteout through a symlink', [[{ name: 'evil', type: '2', linkname: 'OUTSIDE' }], [{ name: 'evil/.wh.victim' }, { name: 'evil/dir/.wh..wh..opq' }]], undefined],
    ['whiteout of dot-dot', [[{ name: 'a/.wh...' }]], 'invalid name'],
    // node-tar CVE-2021-32803: a directory the unpacker remembers is replaced by a symlink.
    ['cached directory replaced by a symlink', [[{ name: 'd/', type: '5' }, { name: 'd/x', data: '1' }, { name: 'd', type: '2', linkname: 'OUTSIDE' }, { name: 'd/victim', data: 'owned' }]], undefined],
    ['cached directory replaced by a symlink in an upper layer', [[{ name: 'd/sub/', type: '5' }], [{ name: 'd', type: '2', linkname: 'OUTSIDE' }, { name: 'd/sub/victim', data: 'owned' }]], undefined],
    ['whited-out directory replaced by a symlink', [[{ name: 'd/sub/f', data: '1' }], [{ name: '.wh.d' }, { name: 'd', type: '2', linkname: 'OUTSIDE' }, { name: 'd/sub/victim', data: 'owned' }]], undefined],
    ['hardlink then write through the hardlinked name', [[{ name: 't', data: 'inside' }, { name: 'h', type: '1', linkname: 't' }, { name: 'h', type: '2', linkname: 'OUTSIDE/victim' }, { name: 'h', data: 'owned' }]], undefined],
    ['device node through a symlink', [[{ name: 'evil', type: '2', linkname: 'OUTSIDE' }, { name: 'evil/null', type: '3', devMajor: 1, devMinor: 3 }]], undefined],
  ];

  it.each(cases)('%s', async (_name, layers, error) => {
    const before = snapshotOutside();
    const tars = layers.map((entries) => rawTar(entries.map((entry) => ({ ...entry, linkname: entry.linkname?.replace('OUTSIDE', outside) }))));
    if (error === undefined) await apply(tars);
    else await expect(apply(tars)).rejects.toThrow(error);
    expect(snapshotOutside()).toBe(before);
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('precious');
  });

  it('writes an absolute name inside the root', async () => {
    await apply([rawTar([{ name: '/etc/passwd', data: 'root:x:0:0' }])]);
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toBe('root:x:0:0');
  });
});

describe('malformed archives fail with a clear error', () => {
  const base256 = (bytes: number[], length: number): Buffer => Buffer.concat([Buffer.from([0x80]), Buffer.alloc(length - 1 - bytes.length), Buffer.from(bytes)]);
  const cases: [string, Buffer, string][] = [
    ['bad checksum', rawTar([{ name: 'f', data: 'x', checksumDelta: 1 }]), 'bad header checksum'],
    ['unknown entry type', rawTar([{ name: 'f', type: 'Z' }]), "unsupported entry type 'Z'"],
    ['GNU sparse entry', rawTar([{ name: 'f', type: 'S' }]), "unsupported entry type 'S'"],
    ['symlink with data', rawTar([{ name: 'l', type: '2', linkname: 't', data: 'data' }]), 'symlink entry with 4 bytes'],
    ['directory with data', rawTar([{ name: 'd/', type: '5', data: 'data' }]), 'directory entry with 4 bytes'],
    ['symlink without target', rawTar([{ name: 'l', type: '2' }]), 'without a target'],
    ['oversized PAX header', rawTar([{ name: 'f', pax: { comment: 'x'.repeat(1024 * 1024 + 1) } }]), 'PAX header of'],
    ['oversized GNU long name', rawTar([{ name: '././@LongLink', type: 'L', data: 'n'.repeat(70 * 1024) }, { name: 'f' }]), 'GNU long name of'],
    ['NUL in a PAX path', rawTar([{ name: 'f', pax: { path: 'a\0b' } }]), 'NUL'],
    ['uid out of range', rawTar([{ name: 'f', patch: { offset: 108, bytes: base256([0x01, 0, 0, 0, 0], 8) } }]), 'out of range'],
    ['negative base-256 number', rawTar([{ name: 'f', patch: { offset: 124, bytes: Buffer.alloc(12, 0xff) } }]), 'negative size'],
    ['non-octal mode', rawTar([{ name: 'f', patch: { offset: 100, bytes: Buffer.from('0009999\0') } }]), 'not octal'],
    ['device number out of range', rawTar([{ name: 'd', type: '3', devMajor: 5000, devMinor: 1 }]), 'device number 5000:1 out of range'],
    ['truncated data', rawTar([{ name: 'f', data: 'x'.repeat(2000) }], { end: false }).subarray(0, 1024), 'truncated'],
    ['truncated header', rawTar([{ name: 'f', data: 'x' }], { end: false }).subarray(0, 300), 'truncated'],
    ['PAX sparse file', rawTar([{ name: 'f', pax: { 'GNU.sparse.major': '1' } }]), 'sparse'],
    ['PAX size not a number', rawTar([{ name: 'f', pax: { size: '12abc' } }]), 'not a number'],
    ['empty name', rawTar([{ name: '', data: 'x' }]), 'empty name'],
  ];

  it.each(cases)('%s', async (_name, tar, message) => {
    const before = snapshotOutside();
    await expect(apply([tar])).rejects.toThrow(message);
    expect(snapshotOutside()).toBe(before);
  });

  it('closes the file it was writing when the archive breaks off inside it', async () => {
    const openUnderRoot = (): string[] =>
      readdirSync('/proc/self/fd')
        .map((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return '';
          }
        })
        .filter((target) => target.startsWith(`${root}/`));
    const truncated = rawTar([{ name: 'partial', data: 'x'.repeat(5000) }], { end: false }).subarray(0, 2048);
    await expect(apply([truncated])).rejects.toThrow('truncated');
    const oversized = rawTar([{ name: 'big', data: Buffer.alloc(100_000) }]);
    await expect(apply([oversized], { maxBytes: 50_000 })).rejects.toThrow('more than 50000 bytes');
    expect(openUnderRoot()).toEqual([]);
  });

  it('refuses a PAX record whose length overruns the header', async () => {
    const good = rawTar([{ name: 'f', pax: { comment: 'abc' } }]);
    const index = good.indexOf(Buffer.from(' comment=abc'));
    good.write('99', index - 2, 'latin1');
    const header = good.subarray(0, 512);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0`, 148, 'latin1');
    await expect(apply([good])).rejects.toThrow('overruns');
  });

  it('stops at the entry and size limits', async () => {
    const many = rawTar(Array.from({ length: 20 }, (_, index) => ({ name: `f${index}`, data: 'x' })));
    await expect(apply([many], { maxEntries: 10 })).rejects.toThrow('more than 10 entries');
    const big = rawTar([{ name: 'big', data: Buffer.alloc(100_000) }]);
    await expect(apply([big], { maxBytes: 50_000 })).rejects.toThrow('more than 50000 bytes');
  });
});
