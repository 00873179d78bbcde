import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHandoff, writeHandoff } from '../../../src/boot/handoff.ts';

const shutdown = { poweroffDelaySeconds: 5, shutdownCommand: 'poweroff -f', rebootCommand: 'reboot -f' };

describe('hand-off to PID 1', () => {
  it('writes a fractional b2c.poweroff_delay as busybox sleep takes it', () => {
    const half = { ...shutdown, poweroffDelaySeconds: 0.5 };
    expect(formatHandoff({ end: { action: 'poweroff' }, shutdown: half, final: true })).toContain('\ndelay=0.5\n');
    expect(formatHandoff({ end: { action: 'poweroff' }, shutdown: { ...shutdown, poweroffDelaySeconds: 0.0000001 }, final: true })).toContain('\ndelay=0\n');
  });

  it('names the action, delay and the command for that action', () => {
    expect(formatHandoff({ end: { action: 'reboot' }, shutdown, final: true })).toBe('action=reboot\ndelay=5\ncommand=reboot -f\nfinal=1\n');
    expect(formatHandoff({ end: { action: 'poweroff' }, shutdown, final: false })).toBe('action=poweroff\ndelay=5\ncommand=poweroff -f\n');
  });

  it('keeps every value on one line so a command cannot inject keys', () => {
    const text = formatHandoff({ end: { action: 'poweroff' }, shutdown: { ...shutdown, shutdownCommand: 'echo a\nfinal=1' }, final: false });
    expect(text.split('\n').filter((line) => line === 'final=1')).toEqual([]);
  });

  it('replaces the file atomically', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'handoff-')), 'sub', 'handoff');
    writeHandoff({ end: { action: 'poweroff' }, shutdown, final: false, reason: 'testing' }, file);
    writeHandoff({ end: { action: 'poweroff' }, shutdown, final: true }, file);
    expect(readFileSync(file, 'utf8')).toBe('action=poweroff\ndelay=5\ncommand=poweroff -f\nfinal=1\n');
  });
});
