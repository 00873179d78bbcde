// The PID 1 lifecycle, booted for real: the launcher runs, prints what farms parse, and every way
// of ending (success, bad command line, exception, SIGKILL) ends in a clean power-off, never a panic.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOverlayInitramfs } from '../../initrd/overlay.ts';
import { boot, defaultInitrd, EXIT_NO_STATUS, REPO_ROOT, type BootResult } from '../../qemu/harness.ts';

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
    // A virtio NIC gets its driver from its modalias without anyone naming it.
    expect(result.console).toMatch(/Drivers loaded for the hardware present: .*virtio_net/);
    expect(result.console).toMatch(/Launcher: Node v24\.\d+\.\d+, from its startup snapshot/);
    expect(result.console).toMatch(/section_start:\d+:ocinit_boot\[collapsed=true\]/);
    expect(result.console).toMatch(/section_end:\d+:ocinit_boot/);
    expect(result.console).toContain('Execution is over, pipeline status: 0');
    expect(result.status).toBe(0);
    expect(result.exitCode).toBe(0);
  });

  it('a startup snapshot Node cannot load falls back to /init.js, which runs the job', async () => {
    // A truncated snapshot makes Node crash before the launcher starts, as a mismatched one would fail.
    const truncated = readFileSync(join(REPO_ROOT, 'build/init.snapshot')).subarray(0, 100_000);
    const initrd = join(work, 'broken-snapshot.cpio');
    await writeOverlayInitramfs(defaultInitrd(), [{ type: 'inline', path: '/init.snapshot', mode: 0o644, data: truncated }], initrd);
    const result = await boot({ initrd, timeoutSeconds: 180 });
    expectCleanEnd(result);
    expect(result.console).toMatch(/ocinit: the launcher did not start from \/init\.snapshot \(exit status \d+\); starting \/init\.js/);
    expect(result.console).toMatch(/Launcher: Node v24\.\d+\.\d+, from \/init\.js/);
    expect(result.console).toContain('Execution is over, pipeline status: 0');
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

  it('a malformed command line prints every problem, runs nothing and powers off', async () => {
    const result = await boot({
      timeoutSeconds: 180,
      append: ['b2c.poweroff_delay=soon', 'b2c.container="--no-such-flag docker://10.0.2.2:5000/demo:latest"', 'b2c.pipfail'],
    });
    expectCleanEnd(result);
    expect(result.console).toContain('b2c.poweroff_delay');
    expect(result.console).toContain('--no-such-flag');
    expect(result.console).toContain('b2c.pipfail');
    expect(result.console).toContain('Execution is over, pipeline status: 125');
    expect(result.exitCode).toBe(125);
  });
});
