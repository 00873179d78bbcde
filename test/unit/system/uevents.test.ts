import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UeventWatch } from '../../../src/system/uevents.ts';

describe('UeventWatch', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const counter = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'uevents-'));
    dirs.push(dir);
    return join(dir, 'uevent_seqnum');
  };

  it('says yes the first time, then only when the kernel has sent uevents since', () => {
    const path = counter();
    writeFileSync(path, '1041\n');
    const watch = new UeventWatch(path);
    expect(watch.changed()).toBe(true);
    expect(watch.changed()).toBe(false);
    writeFileSync(path, '1042\n');
    expect(watch.changed()).toBe(true);
    expect(watch.changed()).toBe(false);
  });

  it('says no when nothing was sent since the count another scan started from', () => {
    const path = counter();
    writeFileSync(path, '77\n');
    const watch = new UeventWatch(path);
    watch.seen('77');
    expect(watch.changed()).toBe(false);
    const behind = new UeventWatch(path);
    behind.seen('76');
    expect(behind.changed()).toBe(true);
    const unknown = new UeventWatch(path);
    unknown.seen('');
    expect(unknown.changed()).toBe(true);
  });

  it('always says yes when the count cannot be read', () => {
    const watch = new UeventWatch(join(counter(), 'absent'));
    expect(watch.changed()).toBe(true);
    expect(watch.changed()).toBe(true);
  });
});
