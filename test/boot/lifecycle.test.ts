// The PID 1 lifecycle, booted for real: the launcher runs, prints what farms parse, and every way
// of ending (success, bad command line, exception, SIGKILL) ends in a clean power-off, never a panic.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOverlayInitramfs } from '../../initrd/overlay.ts';
import { boot, defaultInitrd, EXIT_NO_STATUS, EXIT_NOT_STARTED, REPO_ROOT, type BootResult } from '../../qemu/harness.ts';
import { parseSummary } from '../../src/run/summary.ts';

const work = mkdtempSync(join(tmpdir(), 'ocinit-lifecycle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function expectCleanEnd(result: BootResult): void {
  expect(result.timedOut).toBe(false);
  expect(result.kernelPanic).toBe(false);
  expect(result.console).not.toContain('Attempted to kill init');
  expect(result.console).toContain("It's now safe to turn off your computer");
  expect(result.console).toMatch(/reboot: Power down/);
}

describe('boot', () => {
  it('runs the launcher, prints runtime info and the final lines, and powers off', async () => {
    const result = await boot({ timeoutSeconds: 180, append: ['loglevel=5', 'b2c.hostname=dut-42'] });
    expectCleanEnd(result);
    expect(result.console).toMatch(/\[\d+\.\d+\]: ocinit \S+: launcher started/);
    for (const label of ['Kernel: Linux', 'Architecture: x86_64', 'CPU: 2 x', 'RAM:', 'Block devices:']) {
      expect(result.console).toContain(label);
    }
    // A virtio NIC gets its driver from its modalias without anyone naming it, loaded by /init
    // while Node starts (initrd/init.sh); the launcher finds it loaded.
    expect(result.console).toMatch(/\/init loaded the drivers for \d+ device aliases while the launcher started/);
    expect(result.console).toMatch(/Drivers loaded for the hardware present: .*virtio_net/);
    expect(result.console).toMatch(/Launcher: Node v24\.\d+\.\d+, from its startup snapshot/);
    // boot2container's section names and banner lines.
    expect(result.console).toMatch(/section_start:\d+:runtime_info\[collapsed=true\]\r\u001b\[0K\[\d+\.\d+\]: Runtime information/);
    expect(result.console).toMatch(/section_end:\d+:runtime_info/);
    expect(result.console).toMatch(/^\[\d+\.\d+\]: Linux version: \S+\r?$/m);
    expect(result.console).toMatch(/^\[\d+\.\d+\]: Boot2container version: ocinit \S+\r?$/m);
    // No container: as in boot2container, no pipeline and no status line; ocinit says so.
    expect(result.console).toMatch(/^.*ocinit: no pipeline: the command line names no b2c\.container and no b2c\.post_container\r?$/m);
    expect(result.console).not.toContain('Execution is over');
    expect(parseSummary(result.console)).toMatchObject({ status: null, outcome: 'no_pipeline' });
    expect(result.exitCode).toBe(0);
  });

  it('a startup snapshot Node cannot load falls back to /init.js, which runs the job', async () => {
    // A truncated snapshot makes Node crash before the launcher starts, as a mismatched one would fail.
    const truncated = readFileSync(join(REPO_ROOT, 'build/init.snapshot')).subarray(0, 100_000);
    const initrd = join(work, 'broken-snapshot.cpio');
    await writeOverlayInitramfs(defaultInitrd(), [{ type: 'inline', path: '/init.snapshot', mode: 0o644, data: truncated }], initrd);
    // b2c.insmods load first, so /init leaves all driver loading to the launcher then.
    const result = await boot({ initrd, timeoutSeconds: 180, append: ['b2c.insmods=virtio_blk'] });
    expectCleanEnd(result);
    expect(result.console).toMatch(/ocinit: the launcher did not start from \/init\.snapshot \(exit status \d+\); starting \/init\.js/);
    expect(result.console).toMatch(/Launcher: Node v24\.\d+\.\d+, from \/init\.js/);
    expect(result.console).toMatch(/\$ modprobe virtio_blk/);
    expect(result.console).not.toMatch(/\/init loaded the drivers/);
    expect(result.console).toMatch(/Drivers loaded for the hardware present: .*virtio_net/);
    expect(result.noPipeline).toBe(true);
    expect(result.exitCode).toBe(0);
  });

  it('an unhandled exception still ends with the configured shutdown, after the reason', async () => {
    const result = await boot({
      timeoutSeconds: 180,
      append: ['b2c.debug_crash=exception', 'b2c.poweroff_delay=1', 'b2c.shutdown_cmd="echo custom shutdown command ran; poweroff -f"'],
    });
    expectCleanEnd(result);
    expect(result.console).toContain('b2c.debug_crash=exception: simulated launcher bug');
    expect(result.console).toMatch(/the launcher exited with code 70 before finishing/);
    expect(result.console).toContain('custom shutdown command ran');
    // No status line: a farm must not mistake a crash for a finished pipeline.
    expect(result.status).toBeUndefined();
    expect(result.exitCode).toBe(EXIT_NO_STATUS);
  });

  it('a SIGKILLed launcher (as by the OOM killer) still ends in a clean power-off', async () => {
    const result = await boot({ timeoutSeconds: 180, append: ['b2c.debug_crash=kill'] });
    expectCleanEnd(result);
    expect(result.console).toMatch(/the launcher was killed by signal 9/);
    expect(result.exitCode).toBe(EXIT_NO_STATUS);
  });

  it('a malformed command line prints every problem, says the pipeline never started, prints no status line and powers off', async () => {
    const result = await boot({
      timeoutSeconds: 180,
      append: ['b2c.poweroff_delay=soon', 'b2c.container="--no-such-flag docker://10.0.2.2:5000/demo:latest"', 'b2c.pipfail'],
    });
    expectCleanEnd(result);
    expect(result.console).toContain('b2c.poweroff_delay');
    expect(result.console).toContain('--no-such-flag');
    expect(result.console).toContain('b2c.pipfail');
    expect(result.console).toMatch(/^.*ocinit: pipeline not started: cmdline: the kernel command line has 2 problem\(s\)\S*\r?$/m);
    expect(result.console).not.toContain('Execution is over');
    expect(parseSummary(result.console)).toMatchObject({ status: null, outcome: 'not_started', notStarted: { stage: 'cmdline' } });
    expect(result.exitCode).toBe(EXIT_NOT_STARTED);
  });

  it('a network that never comes up: b2c\'s error line, no status line, ocinit\'s not-started line, then the configured shutdown', async () => {
    const result = await boot({
      timeoutSeconds: 180,
      net: { kind: 'none' },
      append: ['b2c.dhcp_timeout=2', 'b2c.poweroff_delay=0.5', 'b2c.container="docker://10.0.2.2:5000/demo:latest true"'],
    });
    expectCleanEnd(result);
    // A fractional b2c.poweroff_delay is slept as b2c does, after its line.
    expect(result.console).toMatch(/It's now safe to turn off your computer\r?\n(\S*\r?\n)?sleep 0\.5\r?$/m);
    expect(result.console).toMatch(/^.*ERROR: Could not connect to the network, shutting down!\S*\r?$/m);
    expect(result.console).toMatch(/^.*ocinit: pipeline not started: network: .+$/m);
    expect(result.console).not.toContain('Execution is over');
    expect(result.notStarted?.stage).toBe('network');
    expect(parseSummary(result.console)).toMatchObject({ status: null, outcome: 'not_started', notStarted: { stage: 'network' }, containers: [] });
    expect(result.exitCode).toBe(EXIT_NOT_STARTED);
  });
});
