import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteContainer, warmUpCrun } from '../../../src/system/crun.ts';

let dir: string;
let calls: string;
let binary: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ocinit-crun-'));
  calls = join(dir, 'calls');
  binary = join(dir, 'crun');
  // A stand-in for crun that records its arguments.
  writeFileSync(binary, `#!/bin/sh\necho "$*" >> ${calls}\n`);
  chmodSync(binary, 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const recorded = (): string[] => readFileSync(calls, { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean);

describe('deleteContainer', () => {
  it('runs crun delete only when crun keeps state for the container', async () => {
    const stateDir = join(dir, 'state');
    await deleteContainer('container-1', { binary, stateDir });
    expect(recorded()).toEqual([]);
    mkdirSync(join(stateDir, 'container-1'), { recursive: true });
    await deleteContainer('container-1', { binary, stateDir });
    expect(recorded()).toEqual([`--root ${stateDir} delete --force container-1`]);
  });

  it('warms crun up with one process, however often it is asked', async () => {
    const stateDir = join(dir, 'state');
    await Promise.all([warmUpCrun({ binary, stateDir }), warmUpCrun({ binary, stateDir })]);
    await warmUpCrun({ binary, stateDir });
    expect(recorded()).toEqual([`--root ${stateDir} --version`]);
  });
});
