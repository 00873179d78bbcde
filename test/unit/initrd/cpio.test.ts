import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeCpio, type CpioEntry } from '../../../initrd/cpio.ts';

async function archive(entries: CpioEntry[], mtime = 1_700_000_000): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  await writeCpio(entries, out, mtime);
  out.end();
  return Buffer.concat(chunks);
}

describe('cpio writer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpio-'));
  const source = join(dir, 'payload');
  writeFileSync(source, 'hello from the host\n');
  const entries: CpioEntry[] = [
    { type: 'directory', path: '/bin', mode: 0o755 },
    { type: 'file', path: '/bin/tool', mode: 0o4755, source, size: statSync(source).size },
    { type: 'inline', path: '/etc-note', mode: 0o644, data: Buffer.from('odd') },
    { type: 'symlink', path: '/bin/sh', target: 'busybox' },
    { type: 'char-device', path: '/console', mode: 0o600, major: 5, minor: 1 },
  ];

  it('writes an archive GNU cpio extracts with the same types, modes, links, devices and contents', async () => {
    const bytes = await archive(entries);
    const out = mkdtempSync(join(tmpdir(), 'cpio-out-'));
    const result = spawnSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { cwd: out, input: bytes });
    expect(result.status).toBe(0);
    expect(readFileSync(join(out, 'bin/tool'), 'utf8')).toBe('hello from the host\n');
    expect(statSync(join(out, 'bin/tool')).mode & 0o7777).toBe(0o4755);
    expect(readFileSync(join(out, 'etc-note'), 'utf8')).toBe('odd');
    expect(readlinkSync(join(out, 'bin/sh'))).toBe('busybox');
    const device = statSync(join(out, 'console'));
    expect(device.isCharacterDevice()).toBe(true);
    expect(device.rdev).toBe((5 << 8) | 1);
    expect(statSync(join(out, 'bin/tool')).mtimeMs).toBe(1_700_000_000_000);
  });

  it('lists owner 0 and the fixed mtime for every entry', async () => {
    const listing = spawnSync('cpio', ['-itv', '--quiet'], { input: await archive(entries) }).stdout.toString();
    const lines = listing.trim().split('\n');
    expect(lines).toHaveLength(entries.length);
    for (const line of lines) expect(line).toMatch(/^\S+\s+\d+\s+root\s+root\s/);
  });

  it('gives the same bytes for the same entries', async () => {
    expect((await archive(entries)).equals(await archive(entries))).toBe(true);
    expect((await archive(entries, 1)).equals(await archive(entries, 2))).toBe(false);
  });

  it('fails when a file changes size while it is archived', async () => {
    await expect(archive([{ type: 'file', path: '/x', mode: 0o644, source, size: 3 }])).rejects.toThrow(/changed size/);
  });
});
