import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCmdline } from '../../../src/cli/cmdline.ts';
import { FEATURES } from '../../../src/cmdline/support.ts';

const FARM_LINE =
  'b2c.container="-ti --tls-verify=false docker://10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest check" b2c.ntp_peer="10.42.0.1" b2c.pipefail b2c.cache_device=auto b2c.poweroff_delay=15 console=ttyS0,115200';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** `ocinit cmdline ARGS` in this process, with its output collected. */
async function ocinit(...args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const status = await runCmdline(args, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) });
  return { status, stdout, stderr };
}

const scratch = mkdtempSync(join(tmpdir(), 'ocinit-cmdline-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('ocinit cmdline', () => {
  it('prints the plan of a valid line and exits 0', async () => {
    const { status, stdout } = await ocinit('--', FARM_LINE);
    expect(status).toBe(0);
    expect(stdout).toContain('b2c.container #1: 10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest');
    expect(stdout).toContain('Containers (pipefail: stop at the first failure):');
    expect(stdout).toContain('Cache device: auto');
    expect(stdout).toContain('Shutdown: poweroff -f after 15 s');
  });

  it('prints the plan as JSON with --json', async () => {
    const { status, stdout } = await ocinit('--json', '--', FARM_LINE);
    expect(status).toBe(0);
    const output = JSON.parse(stdout) as { valid: boolean; plan: { containers: { image: string; tlsVerify: boolean }[]; pipefail: boolean } };
    expect(output.valid).toBe(true);
    expect(output.plan.pipefail).toBe(true);
    expect(output.plan.containers[0]).toMatchObject({ image: '10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest', tlsVerify: false });
    // Unset fields are present as null, so that consumers see a stable shape.
    expect(output.plan.containers[0]).toMatchObject({ entrypoint: null, workdir: null, creds: null });
    expect(output.plan).toMatchObject({ swap: null, ip: null, keymap: null });
  });

  it('joins several words after -- into one line', async () => {
    const { status, stdout } = await ocinit('--json', '--', 'b2c.hostname=a', 'b2c.keymap=us');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ plan: { hostname: 'a', keymap: 'us' } });
  });

  it('reads --file', async () => {
    const path = join(scratch, 'cmdline');
    writeFileSync(path, `${FARM_LINE}\n`);
    const { status, stdout } = await ocinit('--json', '--file', path);
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ valid: true, plan: { pipefail: true, shutdown: { poweroffDelaySeconds: 15 } } });
  });

  it('lists every problem with position and hint, and exits non-zero', async () => {
    const { status, stdout, stderr } = await ocinit('--', 'b2c.pipfail b2c.container="--detach alpine" b2c.poweroff_delay=soon');
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain("warning: b2c.pipfail (token 0): unknown parameter 'b2c.pipfail' ignored\n  hint: did you mean 'b2c.pipefail'?");
    expect(stderr).toContain("error: b2c.container (token 1): b2c.container #1: unsupported flag '--detach'");
    expect(stderr).toContain("error: b2c.poweroff_delay (token 2): 'soon' is not a number of seconds\n  hint: e.g. b2c.poweroff_delay=15");
    expect(stderr).toContain('2 problem(s)');
  });

  it('lists problems in --json too', async () => {
    const { status, stdout } = await ocinit('--json', '--', 'b2c.hostname=bad_name');
    expect(status).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ valid: false, problems: [{ parameter: 'b2c.hostname', position: 0 }] });
  });

  it('never prints credentials', async () => {
    const line =
      'b2c.minio="gw,http://10.0.0.1:9000,CLI-ACCESS-777,CLI-SECRET-777" b2c.container="--creds u:CLI-PASS-777 alpine" b2c.proxy=http://u:CLI-PROXY-777@10.0.0.1:3128';
    for (const args of [['--', line], ['--json', '--', line]]) {
      const { status, stdout, stderr } = await ocinit(...args);
      expect(status).toBe(FEATURES['s3-mirroring'].supported ? 0 : 1);
      for (const secret of ['CLI-ACCESS-777', 'CLI-SECRET-777', 'CLI-PASS-777', 'CLI-PROXY-777']) expect(stdout + stderr).not.toContain(secret);
    }
  });

  it('reads /proc/cmdline when given no line', async () => {
    const fromProc = await ocinit('--json');
    expect(fromProc.status).not.toBe(2);
    expect(fromProc).toEqual(await ocinit('--json', '--file', '/proc/cmdline'));
  });

  it('explains itself with --help', async () => {
    const { status, stdout } = await ocinit('--help');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: ocinit cmdline \[--json\] \[--env NAME=VALUE\]\.\.\. \[--file PATH \| -- CMDLINE\.\.\.\]/);
  });

  it("expands $VAR from the boot's environment (the line's NAME=VALUE words, init's, --env), never the host's, and warns about unset ones", async () => {
    process.env.OCINIT_TEST_HOST_ONLY = 'host';
    try {
      const line = `JOB_ID=42 b2c.container="alpine sh -c 'echo $JOB_ID' $JOB_ID \${HOME} $TERM $OCINIT_TEST_HOST_ONLY $RUNNER"`;
      const plain = await ocinit('--', line);
      expect(plain.status).toBe(0);
      expect(plain.stdout).toContain('command: "sh" "-c" "echo $JOB_ID" "42" "/root" "linux"\n');
      expect(plain.stdout).toContain("warning: b2c.container (token 1): b2c.container #1: $OCINIT_TEST_HOST_ONLY is not set in the launcher's environment");
      expect(plain.stdout).toContain('$RUNNER is not set');
      const given = await ocinit('--env', 'RUNNER=gitlab', '--env=JOB_ID=7', '--', line);
      expect(given.stdout).toContain('command: "sh" "-c" "echo $JOB_ID" "7" "/root" "linux" "gitlab"\n');
      expect(given.stdout).not.toContain('$RUNNER is not set');
      expect((await ocinit('--env', 'NOEQUALS', '--', line)).status).toBe(2);
    } finally {
      delete process.env.OCINIT_TEST_HOST_ONLY;
    }
  });

  it('refuses bad usage with exit 2', async () => {
    expect((await ocinit('--bogus')).status).toBe(2);
    expect((await ocinit('--file')).status).toBe(2);
    const missing = await ocinit('--file', join(scratch, 'missing'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the command line from .*missing/);
  });
});

describe('the ocinit executable', () => {
  // The real entry point, run by the Node 24 that runs the tests (it strips the types itself).
  const main = join(import.meta.dirname, '../../../src/cli/main.ts');
  const spawnOcinit = (...args: string[]) => spawnSync(process.execPath, [main, 'cmdline', ...args], { encoding: 'utf8', env: {} });

  it('dispatches `cmdline` and exits with its status', () => {
    const ok = spawnOcinit('--json', '--', FARM_LINE);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, plan: { pipefail: true } });
    const bad = spawnOcinit('--', 'b2c.poweroff_delay=soon b2c.minio=gw,http://x:9000,SPAWN-ACCESS-1,SPAWN-SECRET-1,extra');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("error: b2c.poweroff_delay (token 0): 'soon' is not a number of seconds");
    expect(bad.stderr).not.toContain('SPAWN-SECRET-1');
  });
});
