import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHandoff } from '../../../src/boot/handoff.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import type { ImageConfig } from '../../../src/oci/index.ts';
import { OcinitError } from '../../../src/log/errors.ts';
import { findInit, initCommand } from '../../../src/run/switch-root.ts';

function switchRoot(value: string): NonNullable<ReturnType<typeof parseCommandLine>['plan']['switchRoot']> {
  const { plan, problems } = parseCommandLine(`b2c.switch_root="${value}"`, { env: {} });
  expect(problems).toEqual([]);
  if (plan.switchRoot === undefined) throw new Error('no switch_root');
  return plan.switchRoot;
}

const config = (inner: ImageConfig['config']): ImageConfig => ({ config: inner, rootfs: { type: 'layers', diff_ids: [] } });

describe('initCommand', () => {
  it('INIT ARGS from the parameter, else Entrypoint+Cmd, else /sbin/init', () => {
    expect(initCommand(switchRoot('os:1 /lib/systemd/systemd --unit=rescue.target'), config({ Cmd: ['bash'] }))).toEqual(['/lib/systemd/systemd', '--unit=rescue.target']);
    expect(initCommand(switchRoot('os:1'), config({ Entrypoint: ['/init'], Cmd: ['--verbose'] }))).toEqual(['/init', '--verbose']);
    expect(initCommand(switchRoot('os:1'), config({}))).toEqual(['/sbin/init']);
  });
});

describe('b2c.switch_root flags', () => {
  it('takes the pull, entrypoint and environment flags, and refuses those that mean nothing for an OS', () => {
    expect(switchRoot('--tls-verify=false --pull=missing -e A=1 --entrypoint=/init os:1').env).toEqual([{ name: 'A', value: '1' }]);
    const { problems } = parseCommandLine('b2c.switch_root="-ti -v data:/data os:1"', { env: {} });
    expect(problems.map((problem) => problem.message)).toEqual([
      'b2c.switch_root #1: -t has no meaning for b2c.switch_root',
      'b2c.switch_root #1: -i has no meaning for b2c.switch_root',
      'b2c.switch_root #1: -v has no meaning for b2c.switch_root',
    ]);
  });
});

describe('the switch_root hand-off', () => {
  it('carries arguments and environment that survive init.sh eval unchanged, quotes and $ included', () => {
    const args = ['systemd.unit=multi-user.target', "it's $(not run)", 'a b'];
    const env = ['PATH=/usr/bin:/bin', "QUOTED=it's \"fine\" `x` $HOME"];
    const text = formatHandoff({
      end: { action: 'switch_root', newRoot: '/new', init: '/sbin/init', args, env },
      shutdown: { poweroffDelaySeconds: 0, shutdownCommand: 'poweroff -f', rebootCommand: 'reboot -f' },
      final: true,
    });
    const field = (name: string): string => text.split('\n').find((line) => line.startsWith(`${name}=`))?.slice(name.length + 1) ?? '';
    // The same two evals as initrd/init.sh, with printf in place of switch_root.
    const script = `eval "set -- $ARGS"; for a in "$@"; do printf '%s\\n' "$a"; done; eval "env -i $ENV /bin/busybox env"`;
    const output = execFileSync('/bin/busybox', ['sh', '-c', script], { env: { ARGS: field('args'), ENV: field('env') }, encoding: 'utf8' });
    expect(output.split('\n').slice(0, 3)).toEqual(args);
    expect(output.split('\n').slice(3).filter((line) => line !== '').sort()).toEqual([...env].sort());
  });
});

describe('the init switch_root will exec', () => {
  const where = { parameter: 'b2c.switch_root', image: 'registry.lab/os:1' };

  function root(): string {
    const dir = mkdtempSync(join(tmpdir(), 'newroot-'));
    mkdirSync(join(dir, 'lib/systemd'), { recursive: true });
    mkdirSync(join(dir, 'sbin'), { recursive: true });
    mkdirSync(join(dir, 'usr/bin'), { recursive: true });
    writeFileSync(join(dir, 'lib/systemd/systemd'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('/lib/systemd/systemd', join(dir, 'sbin/init'));
    writeFileSync(join(dir, 'usr/bin/not-executable'), 'data', { mode: 0o644 });
    writeFileSync(join(dir, 'usr/bin/myinit'), '#!/bin/sh\n', { mode: 0o755 });
    return dir;
  }

  it('follows absolute symlinks inside the new root, not on the host', () => {
    expect(findInit(root(), '/sbin/init', where)).toBe('/sbin/init');
  });

  it('looks a bare name up in the PATH directories of the image', () => {
    expect(findInit(root(), 'myinit', where)).toBe('/usr/bin/myinit');
  });

  it('refuses a missing or non-executable init before PID 1 is handed over, naming the image', () => {
    expect(() => findInit(root(), '/sbin/nope', where)).toThrow(/'\/sbin\/nope' is not an executable file in the image/);
    expect(() => findInit(root(), '/usr/bin/not-executable', where)).toThrow(OcinitError);
    expect(() => findInit(root(), 'lib', where)).toThrow(OcinitError);
  });
});
