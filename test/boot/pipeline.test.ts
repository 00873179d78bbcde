// The pipeline booted for real: containers pulled from a registry on the host (10.0.2.2 in the
// guest), run by crun from the initramfs, their output on the console, their status qemu/run's.
// Few boots, several checks each (a TCG boot costs 10-20 s).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, type BootResult } from '../../qemu/harness.ts';
import { parseSummary } from '../../src/run/summary.ts';
import { buildImageLayout, pushLayout, type ImageSpec } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

let registry: TestRegistry;
let work: string;
let demo: string;
let corrupt: string;

/** OCINIT_INITRD: boot another initramfs than build/'s (e.g. an uncompressed one while iterating). */
const INITRD = process.env.OCINIT_INITRD === undefined ? {} : { initrd: process.env.OCINIT_INITRD };

const guestReference = (pushed: string): string => pushed.replace(/^127\.0\.0\.1:/, '10.0.2.2:');

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-pipeline-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  demo = guestReference(await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/demo' }));
  const built = await buildImageLayout(join(work, 'bad'), 'bad', corruptibleSpec(demoImageSpec({ Cmd: ['echo', 'BAD IMAGE RAN'] })));
  corrupt = guestReference(await pushLayout(join(work, 'bad'), 'bad', registry, { name: 'ocinit/bad' }));
  const layer = built.layers[1]; // its own layer: the busybox one is shared with the good image
  if (layer === undefined) throw new Error('the image has no layer');
  const blob = readFileSync(registry.blobDataPath(layer.digest));
  blob[100] = (blob[100] ?? 0) ^ 0xff;
  writeFileSync(registry.blobDataPath(layer.digest), blob);
}, 60_000);

afterAll(async () => {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A b2c container parameter naming the demo image (plain HTTP registry). */
const run = (parameter: string, flags: string, command: string): string => `${parameter}="--tls-verify=false ${flags} ${demo} ${command}"`;

function expectCleanEnd(result: BootResult, end: RegExp): void {
  if (result.kernelPanic || !end.test(result.console)) process.stderr.write(result.console);
  expect(result.timedOut).toBe(false);
  expect(result.kernelPanic).toBe(false);
  expect(result.console).toMatch(end);
}

/** The demo image plus a layer of its own, the one the test corrupts. */
function corruptibleSpec(spec: ImageSpec): ImageSpec {
  return { ...spec, layers: [...spec.layers, { files: [{ path: 'marker', content: 'only in this image' }] }] };
}

describe('pipeline boot', () => {
  it('services, containers with their flags, B2C_PIPELINE_* values, post containers; the first failure is the status', async () => {
    const result = await boot({
      ...INITRD,
      timeoutSeconds: 300,
      append: [
        run('b2c.service', '-v shared:/shared', `sh -c 'echo SERVICE ON THE CONSOLE; while :; do echo alive > /shared/heartbeat; sleep 0.2; done'`),
        run(
          'b2c.container',
          '-v shared:/shared -v /usr/share/ocinit:/from-initramfs:ro -e GREETING=hello-from-flag -w /tmp -u 1000 --entrypoint=/bin/sh',
          `-c 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /shared/heartbeat ] && break; sleep 0.5; done; echo service says $(cat /shared/heartbeat); echo uid=$(id -u) cwd=$(pwd) greeting=$GREETING; ls /from-initramfs/udhcpc.script; echo first sees status=$B2C_PIPELINE_STATUS mode=$B2C_PIPELINE_SHUTDOWN_MODE'`,
        ),
        run('b2c.container', '-t', `sh -c 'test -t 1 && echo terminal: $(tty); exit 3'`),
        run('b2c.container', '--init', `sh -c 'echo third ran after prev exit $B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE, status $B2C_PIPELINE_STATUS, pid1=$(cat /proc/1/comm)'`),
        run('b2c.post_container', '', `sh -c 'echo post sees failed_by=[$B2C_PIPELINE_FAILED_BY]'`),
        run('b2c.post_container', '', 'poweroff -f'),
      ],
    });
    expectCleanEnd(result, /reboot: Power down/);
    expect(result.console).toContain('service says alive');
    // Detached as in b2c: the service's own output is in its file, not between the job's lines.
    expect(result.console).not.toContain('SERVICE ON THE CONSOLE');
    expect(result.console).toContain('its output goes to /run/ocinit/services/service-1.log');
    expect(parseSummary(result.console)?.containers[0]?.log).toBe('/run/ocinit/services/service-1.log');
    expect(result.console).toContain('uid=1000 cwd=/tmp greeting=hello-from-flag');
    expect(result.console).toContain('/from-initramfs/udhcpc.script');
    expect(result.console).toContain('first sees status=0 mode=default');
    expect(result.console).toMatch(/terminal: \/dev\/pts\/\d+/);
    // --init: the initramfs's catatonit, bound at /run/podman-init, is the container's PID 1.
    expect(result.console).toContain('third ran after prev exit 3, status 3, pid1=podman-init');
    expect(result.console).toContain(`post sees failed_by=[--tls-verify=false -t ${demo} sh -c 'test -t 1 && echo terminal: $(tty); exit 3']`);
    expect(result.console).toContain('Execution is over, pipeline status: 3');
    expect(result.exitCode).toBe(3);
    const summary = parseSummary(result.console);
    expect(summary?.containers.map((record) => [record.parameter, record.outcome, record.exitCode])).toEqual([
      ['b2c.service', 'stopped', expect.any(Number)],
      ['b2c.container', 'exited', 0],
      ['b2c.container', 'exited', 3],
      ['b2c.container', 'exited', 0],
      ['b2c.post_container', 'exited', 0],
      ['b2c.post_container', 'poweroff_requested', 130],
    ]);
    expect(summary?.containers.every((record) => /^sha256:[0-9a-f]{64}$/.test(record.digest ?? ''))).toBe(true);
    expect(summary?.end).toBe('poweroff');
  }, 320_000);

  it('pipefail skips after a timeout (status 124); a post container asking for a reboot reboots the machine', async () => {
    const result = await boot({
      ...INITRD,
      timeoutSeconds: 300,
      append: [
        'b2c.pipefail',
        'b2c.container_timeout=4',
        run('b2c.container', '', `sh -c 'echo going to $(echo hang); sleep 600'`),
        run('b2c.container', '', 'echo SKIPPED CONTAINER RAN'),
        run('b2c.post_container', '', `sh -c 'echo post after status $B2C_PIPELINE_STATUS; reboot -f'`),
      ],
    });
    expectCleanEnd(result, /reboot: Restarting system/);
    expect(result.console).toContain('going to hang');
    expect(result.console).not.toContain('SKIPPED CONTAINER RAN');
    expect(result.console).toContain('post after status 124');
    expect(result.console).toContain('Execution is over, pipeline status: 124');
    expect(result.console).not.toContain("It's now safe to turn off your computer");
    expect(result.exitCode).toBe(124);
    expect(parseSummary(result.console)?.end).toBe('reboot');
  }, 320_000);

  it('an image that fails verification fails its container in its turn with status 1: the others run, its bytes never do', async () => {
    const bad = await boot({
      ...INITRD,
      timeoutSeconds: 300,
      append: [run('b2c.container', '', 'echo GOOD IMAGE RAN'), `b2c.container="--tls-verify=false ${corrupt}"`, run('b2c.post_container', '', `sh -c 'echo post after status $B2C_PIPELINE_STATUS'`)],
    });
    expectCleanEnd(bad, /reboot: Power down/);
    expect(bad.console).toContain('failed verification');
    expect(bad.console).toContain('GOOD IMAGE RAN');
    expect(bad.console).not.toContain('BAD IMAGE RAN');
    expect(bad.console).toContain('post after status 1');
    expect(bad.console).toMatch(/^.*Execution is over, pipeline status: 1\r?$/m);
    expect(bad.exitCode).toBe(1);
    expect(parseSummary(bad.console)?.containers.map((record) => record.outcome)).toEqual(['exited', 'pull_failed', 'exited']);
  }, 320_000);
});
