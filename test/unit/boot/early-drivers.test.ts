import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { earlyPass } from '../../../src/boot/drivers.ts';
import { Logger } from '../../../src/log/logger.ts';

const dirs: string[] = [];
function passDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'early-drivers-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ sink: (chunk) => lines.push(chunk), color: false }), lines };
}

describe("the launcher and /init's early driver pass", () => {
  it('knows there was none when /init left no modules-before (b2c.insmods)', async () => {
    const { log } = capture();
    expect(await earlyPass(log, passDir({}))).toBeUndefined();
  });

  it('takes the modules loaded before it and the aliases it tried once it is done', async () => {
    const { log } = capture();
    const dir = passDir({ 'modules-before': 'loop\nsquashfs\n', aliases: 'pci:v00001AF4d00001000sv*\nvirtio:d00000001v00001AF4\n', 'uevent-seqnum': '1187\n', done: '2\n' });
    const pass = await earlyPass(log, dir);
    expect(pass?.modulesBefore).toEqual(new Set(['loop', 'squashfs']));
    expect(pass?.aliases).toEqual(['pci:v00001AF4d00001000sv*', 'virtio:d00000001v00001AF4']);
    expect(pass?.ueventCount).toBe('1187');
  });

  it('knows no uevent count from a pass that noted none', async () => {
    const { log } = capture();
    const pass = await earlyPass(log, passDir({ 'modules-before': 'loop\n', aliases: '', done: '1\n' }));
    expect(pass?.ueventCount).toBe('');
  });

  it('waits for the pass to end before reading what it tried', async () => {
    const { log } = capture();
    const dir = passDir({ 'modules-before': 'loop\n', aliases: '' });
    setTimeout(() => {
      writeFileSync(join(dir, 'aliases'), 'acpi:PNP0A03:\n');
      writeFileSync(join(dir, 'done'), '1\n');
    }, 100);
    expect((await earlyPass(log, dir))?.aliases).toEqual(['acpi:PNP0A03:']);
  });

  it('goes on with a warning when the pass does not end', async () => {
    const { log, lines } = capture();
    const dir = passDir({ 'modules-before': 'loop\n', aliases: 'acpi:PNP0A03:\n' });
    expect((await earlyPass(log, dir, 100))?.aliases).toEqual(['acpi:PNP0A03:']);
    expect(lines.join('\n')).toMatch(/have not all loaded after 0.1 s/);
  });
});
