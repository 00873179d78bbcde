// boot2container's observable behaviour, booted for real and read the way farms read it: regular
// expressions anchored to a console line (valve-infra writes `^.*Execution is over, pipeline status:
// 0\r?$`, multiline), never substrings. A farm that swaps boot2container for ocinit must not need
// to change one of them. Few boots, several behaviours each (a TCG boot costs 20-60 s here).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, type BootOptions, type BootResult } from '../../qemu/harness.ts';
import { contentAt, createBlankImage, formatExt4At, partitionImage, partitionOffset, readImageFile, writeImageFile } from '../integration/cache/disk-image.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** OCINIT_INITRD: boot another initramfs than build/'s (e.g. an uncompressed one while iterating). */
const INITRD = process.env.OCINIT_INITRD === undefined ? {} : { initrd: process.env.OCINIT_INITRD };

/** A farm's pattern for one console line: anything before it (uptime prefix, section markers), a CR before the LF. */
const line = (text: string): RegExp => new RegExp(`^.*${text}\\r?$`, 'm');
/** An error line: red as boot2container's, so the colour reset comes between the text and the line end. */
const errorLine = (text: string): RegExp => new RegExp(`^.*${text}(?:\\x1b\\[0m)?\\r?$`, 'm');
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The patterns farms match (valve-infra's job_success / job_failure / session_end). */
const FARM = {
  success: line(escape('Execution is over, pipeline status: 0')),
  status: (status: number) => line(escape(`Execution is over, pipeline status: ${status}`)),
  anyStatus: line('Execution is over, pipeline status: \\d+'),
  sessionEnd: line(escape("It's now safe to turn off your computer")),
};

let registry: TestRegistry;
let work: string;
let demo: string;
/** An image the registry does not have: its pull fails. */
let missing: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-b2c-conformance-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  demo = (await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/demo' })).replace(/^127\.0\.0\.1:/, '10.0.2.2:');
  missing = demo.replace(/ocinit\/demo:demo$/, 'ocinit/never-pushed:1');
}, 60_000);

afterAll(async () => {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

/**
 * A container parameter naming the demo image on the host's registry (plain HTTP). The launcher
 * logs each container's string, so what a test looks for in the output is computed by the
 * container's shell (`$((6*7))`, `$VAR`), never written literally in the string.
 */
const run = (parameter: string, flags: string, command: string): string => `${parameter}="--tls-verify=false ${flags} ${demo} ${command}"`;

async function bootJob(options: BootOptions): Promise<BootResult> {
  const result = await boot({ ...INITRD, timeoutSeconds: 300, ...options });
  if (result.kernelPanic || result.timedOut) process.stderr.write(result.console);
  expect(result.timedOut).toBe(false);
  expect(result.kernelPanic).toBe(false);
  return result;
}

describe('boot2container conformance, as farms read the console', () => {
  it('a job that succeeds: $VAR from the kernel line, podman\'s environment, a labelled cache partition kept, status 0, session end', async () => {
    const GIB = 1024 ** 3;
    const disk = join(work, 'labelled.img');
    createBlankImage(disk, GIB);
    partitionImage(disk, 'label: gpt\n,,L\n');
    const offset = partitionOffset(disk, 1);
    formatExt4At(disk, offset, GIB - 2 * 1024 ** 2, 'rootfs');
    const keep = join(work, 'os-file');
    writeFileSync(keep, 'the DUT operating system\n');
    writeImageFile(disk, offset, keep, '/os-release');

    const probe = [
      'echo ENV container=$container term=$TERM home=$HOME hostname=$(cat /etc/hostname)',
      'test -f /run/.containerenv && echo ENV containerenv=$(grep -c = /run/.containerenv)',
      'grep -qw dut-42 /etc/hosts && echo ENV hosts names the hostname',
      'echo ENV $(grep nameserver /etc/resolv.conf)',
      'echo JOB id=$JOB',
    ].join('; ');
    const result = await bootJob({
      disks: [disk],
      append: [
        'CI_JOB_ID=4242',
        'b2c.hostname=dut-42',
        'b2c.cache_device=/dev/vda1',
        run('b2c.container', '-e JOB=$CI_JOB_ID', `sh -c '${probe}'`),
        run('b2c.post_container', '', `sh -c 'echo POST ran after status $B2C_PIPELINE_STATUS'`),
      ],
    });
    // The farm's verdict.
    expect(result.console).toMatch(FARM.success);
    expect(result.console).toMatch(FARM.sessionEnd);
    expect(result.console.match(new RegExp(FARM.anyStatus.source, 'gm'))).toHaveLength(1);
    // $CI_JOB_ID came from the kernel command line through the launcher's environment.
    expect(result.console).toMatch(line('JOB id=4242'));
    // podman's environment (the details are compared with podman itself in test/integration/run/podman-environment.test.ts).
    expect(result.console).toMatch(line('ENV container=podman term=xterm home=/root hostname=dut-42'));
    expect(result.console).toMatch(line('ENV containerenv=6'));
    expect(result.console).toMatch(line('ENV hosts names the hostname'));
    expect(result.console).toMatch(line(escape('ENV nameserver 10.0.2.3'))); // QEMU's DNS, from the DHCP lease
    expect(result.console).toMatch(line('POST ran after status 0'));
    // A labelled partition is mounted as it is, never formatted (boot2container's try_to_use_cache_device).
    expect(contentAt(disk, offset)).toEqual({ kind: 'ext', label: 'rootfs' });
    expect(readImageFile(disk, offset, '/os-release')).toBe('the DUT operating system\n');
  }, 320_000);

  it('a job that fails: the first failing status, b2c.pipefail skips the rest, post containers still run and see it', async () => {
    const result = await bootJob({
      append: [
        'b2c.pipefail',
        run('b2c.container', '', `sh -c 'echo FIRST ran; exit 3'`),
        run('b2c.container', '', `sh -c 'echo SKIPPED-$((6*7))'`),
        run('b2c.post_container', '', `sh -c 'echo POST sees status $B2C_PIPELINE_STATUS'`),
      ],
    });
    expect(result.console).toMatch(FARM.status(3));
    expect(result.console).not.toMatch(FARM.success);
    expect(result.console).toMatch(FARM.sessionEnd);
    expect(result.console).toMatch(line('FIRST ran'));
    expect(result.console).not.toMatch(line('SKIPPED-42'));
    expect(result.console).toMatch(line('POST sees status 3'));
  }, 320_000);

  it('an image that cannot be pulled fails its container in its turn with status 1: the others run, the post container still uploads', async () => {
    const result = await bootJob({
      append: [
        run('b2c.container', '', `sh -c 'echo BEFORE-$((6*7))'`),
        `b2c.container="--tls-verify=false ${missing} sh -c 'echo MISSING-$((6*7))'"`,
        run('b2c.container', '', `sh -c 'echo AFTER ran after $B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE'`),
        run('b2c.post_container', '', `sh -c 'echo REAPER uploads after status $B2C_PIPELINE_STATUS'`),
      ],
    });
    expect(result.console).toMatch(FARM.status(1));
    expect(result.console).toMatch(FARM.sessionEnd);
    expect(result.console).toMatch(line('BEFORE-42'));
    expect(result.console).not.toMatch(line('MISSING-42'));
    expect(result.console).toMatch(line('AFTER ran after 1'));
    expect(result.console).toMatch(line('REAPER uploads after status 1'));
  }, 320_000);

  it('a container asking for a reboot: 129 is the status, as in boot2container, and the machine reboots; services stay off the console', async () => {
    const result = await bootJob({
      append: [
        run('b2c.service', '-v shared:/shared', `sh -c 'while :; do echo beat-$((6*7)) > /shared/beat; echo SERVICE-$((6*7)); sleep 0.2; done'`),
        run('b2c.container', '-v shared:/shared', `sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /shared/beat ] && break; sleep 0.5; done; echo SAW $(cat /shared/beat)'`),
        run('b2c.container', '', 'reboot -f'),
        run('b2c.post_container', '', `sh -c 'echo POST sees status $B2C_PIPELINE_STATUS mode $B2C_PIPELINE_SHUTDOWN_MODE'`),
      ],
    });
    expect(result.console).toMatch(FARM.status(129));
    expect(result.console).not.toMatch(FARM.success);
    expect(result.console).toMatch(line('POST sees status 129 mode reboot'));
    expect(result.console).not.toMatch(FARM.sessionEnd);
    expect(result.console).toMatch(line(escape('reboot: Restarting system')));
    // The service ran (the container saw what it wrote) but printed nothing on the console, as b2c's detached ones.
    expect(result.console).toMatch(line('SAW beat-42'));
    expect(result.console).not.toMatch(/SERVICE-42/);
  }, 320_000);

  it('a pipeline that never starts (the extra arguments cannot be fetched) prints no status line, only what failed, then ends the session', async () => {
    const result = await bootJob({
      append: ['b2c.extra_args_url=http://10.0.2.2:1/extra-args', run('b2c.container', '', `sh -c 'echo JOB-$((6*7))'`)],
    });
    expect(result.console).not.toMatch(FARM.anyStatus);
    expect(result.console).toMatch(errorLine(escape('ERROR: Could not download the extra command line, shutting down!')));
    expect(result.console).toMatch(errorLine('ocinit: pipeline not started: extra_args: cannot download the extra arguments: .+'));
    expect(result.console).not.toMatch(line('JOB-42'));
    expect(result.console).toMatch(FARM.sessionEnd);
  }, 320_000);
});
