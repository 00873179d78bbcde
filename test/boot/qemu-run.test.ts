// qemu/run as a developer uses it: its exit codes are the contract (docs/testing.md).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_NOT_STARTED, EXIT_TIMEOUT, EXIT_USAGE, REPO_ROOT } from '../../qemu/harness.ts';

function qemuRun(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(join(REPO_ROOT, 'qemu/run'), args, { encoding: 'utf8', timeout: 240_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('qemu/run', () => {
  it('exits 0 after a boot with no container (no pipeline), with the console on stdout', () => {
    const result = qemuRun(['--timeout', '180']);
    expect(result.stdout).toContain('ocinit: no pipeline: ');
    expect(result.code).toBe(0);
  });

  it(`passes each word after -- verbatim, quotes kept; exits ${EXIT_NOT_STARTED} when the pipeline never started`, () => {
    const result = qemuRun(['--timeout', '180', '--', 'b2c.container="-ti --bogus docker://10.0.2.2:5000/demo:latest"']);
    expect(result.stdout).toContain('--bogus');
    expect(result.stdout).toContain('ocinit: pipeline not started: cmdline: ');
    expect(result.stderr).toContain('the pipeline never started: cmdline');
    expect(result.code).toBe(EXIT_NOT_STARTED);
  });

  it(`exits ${EXIT_TIMEOUT} when the machine outlives --timeout`, () => {
    const result = qemuRun(['--timeout', '1']);
    expect(result.stderr).toContain('timed out');
    expect(result.code).toBe(EXIT_TIMEOUT);
  });

  it(`exits ${EXIT_USAGE} on a usage error, naming the option`, () => {
    const result = qemuRun(['--net', 'carrier-pigeon']);
    expect(result.stderr).toContain('--net');
    expect(result.code).toBe(EXIT_USAGE);
  });
});
