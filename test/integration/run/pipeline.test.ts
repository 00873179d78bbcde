// The pipeline with real parts: docker-registry, images pushed with skopeo, bundles run by crun.
// Containers write what they see into a bind-mounted directory; the console is not captured here.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../../qemu/demo-image.ts';
import { openStorage } from '../../../src/cache/index.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import type { Plan } from '../../../src/cmdline/plan.ts';
import { runPipeline, type PipelineResult } from '../../../src/run/index.ts';
import { buildImageLayout, pushLayout, type ImageSpec } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { capturingLogger, CRUN_PREFIX, tmpfsState } from './host.ts';

let registry: TestRegistry;
let work: string;
let demo: string;
let configured: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-run-test-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  demo = await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/demo' });
  await buildImageLayout(
    join(work, 'layout'),
    'configured',
    demoImageSpec({ Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo image-cmd > /out/cmd'], WorkingDir: '/home/demo', User: 'demo', Env: ['PATH=/bin:/sbin', 'FROM_IMAGE=image', 'OVERRIDDEN=image'] }),
  );
  configured = await pushLayout(join(work, 'layout'), 'configured', registry, { name: 'ocinit/configured' });
}, 60_000);

afterAll(async () => {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

function plan(words: string[]): Plan {
  const parsed = parseCommandLine(words.join(' '), { env: {} });
  expect(parsed.problems).toEqual([]);
  return parsed.plan;
}

async function run(words: string[]): Promise<{ result: PipelineResult & { serviceLog?: string }; out: string; console: string }> {
  const out = mkdtempSync(join(work, 'out-'));
  chmodSync(out, 0o777); // the image's 'demo' user writes there too
  const state = tmpfsState();
  const { log, text } = capturingLogger();
  try {
    const parsed = plan(words.map((word) => word.replaceAll('OUT', out)));
    const storage = await openStorage(parsed, log, { ramRoot: state.dir });
    const result = await runPipeline(parsed, { storage, crun: { prefix: CRUN_PREFIX, stateDir: join(state.dir, 'crun') }, log, resolvConf: '/etc/resolv.conf', stopGraceMs: 500 });
    const serviceLog = result.summary.containers[0]?.log;
    return { result: { ...result, ...(serviceLog === undefined ? {} : { serviceLog: readFileSync(serviceLog, 'utf8') }) }, out, console: text() };
  } finally {
    state.remove();
  }
}

const read = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

/** The demo image plus a layer of its own, the one the test corrupts. */
function corruptibleSpec(spec: ImageSpec): ImageSpec {
  return { ...spec, layers: [...spec.layers, { files: [{ path: 'marker', content: 'only in this image' }] }] };
}

describe('pipeline on the host', () => {
  it('merges the image config with -e, --env-file, -w, -u, --entrypoint and binds, and returns the exit code', async () => {
    const envFile = join(work, 'job.env');
    writeFileSync(envFile, '# comment\nFROM_FILE=file value\nOVERRIDDEN=file\n');
    const { result, out } = await run([
      `b2c.container="--tls-verify=false -v OUT:/out ${configured}"`,
      `b2c.container="--tls-verify=false -v OUT:/out -e OVERRIDDEN=flag --env-file ${envFile} ${configured} 'env > /out/env; id -u > /out/uid; id -G > /out/groups; pwd > /out/pwd; exit 7'"`,
      `b2c.container="--tls-verify=false -v OUT:/out -u 0:44 -w /tmp --entrypoint=/bin/sh ${configured} -c 'id -u > /out/uid2; id -g > /out/gid2; pwd > /out/pwd2'"`,
    ]);
    expect(read(out, 'cmd')).toBe('image-cmd\n');
    const env = read(out, 'env');
    expect(env).toContain('FROM_IMAGE=image\n');
    expect(env).toContain('FROM_FILE=file value\n');
    expect(env).toContain('OVERRIDDEN=flag\n');
    expect(env).toContain('HOME=/home/demo\n');
    expect(env).toContain('PATH=/bin:/sbin\n');
    expect(read(out, 'uid')).toBe('1000\n');
    expect(read(out, 'groups').trim().split(' ').sort()).toEqual(['1000', '44']);
    expect(read(out, 'pwd')).toBe('/home/demo\n');
    expect(read(out, 'uid2')).toBe('0\n');
    expect(read(out, 'gid2')).toBe('44\n');
    expect(read(out, 'pwd2')).toBe('/tmp\n');
    expect(result.status).toBe(7);
    expect(result.summary.containers.map((record) => record.exitCode)).toEqual([0, 7, 0]);
    expect(result.summary.containers.every((record) => record.digest?.startsWith('sha256:') === true)).toBe(true);
    expect(result.summary.containers.map((record) => record.signature)).toEqual(['unsigned: no policy', 'unsigned: no policy', 'unsigned: no policy']);
  }, 60_000);

  it('--init runs catatonit as the container\'s PID 1, the command as its child', async () => {
    const { result, out } = await run([
      `b2c.container="--tls-verify=false --init -v OUT:/out ${demo} sh -c 'cat /proc/1/cmdline > /out/with-init'"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} sh -c 'cat /proc/1/cmdline > /out/without'"`,
    ]);
    expect(result.status).toBe(0);
    const pid1 = (name: string): string => read(out, name).replaceAll('\0', ' ').trim();
    expect(pid1('with-init')).toBe('/run/podman-init -- sh -c cat /proc/1/cmdline > /out/with-init');
    // Without it the command is PID 1 itself (busybox sh execs its last command).
    expect(pid1('without')).toBe('cat /proc/1/cmdline');
  }, 60_000);

  it('honours -v noexec, --security-opt no-new-privileges, -i, and --name in the log', async () => {
    const { result, out, console } = await run([
      `b2c.container="--tls-verify=false -v tools:/t ${demo} sh -c 'echo exit 0 > /t/run; chmod +x /t/run; /t/run'"`,
      `b2c.container="--tls-verify=false -v tools:/t:noexec -v OUT:/out ${demo} sh -c '/t/run; echo $? > /out/noexec'"`,
      `b2c.container="--tls-verify=false --name nnp-check --security-opt no-new-privileges -v OUT:/out ${demo} sh -c 'grep NoNewPrivs /proc/self/status > /out/nnp'"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} sh -c 'grep NoNewPrivs /proc/self/status > /out/default; readlink /proc/self/fd/0 > /out/stdin'"`,
      `b2c.container="--tls-verify=false -i -v OUT:/out ${demo} sh -c 'readlink /proc/self/fd/0 > /out/stdin-interactive'"`,
    ]);
    expect(result.summary.containers.map((record) => record.exitCode)).toEqual([0, 0, 0, 0, 0]);
    expect(read(out, 'noexec')).toBe('126\n');
    expect(read(out, 'nnp')).toMatch(/^NoNewPrivs:\s+1\n$/);
    expect(read(out, 'default')).toMatch(/^NoNewPrivs:\s+0\n$/);
    expect(console).toContain('b2c.container #3 (nnp-check) exited with status 0');
    // Without -i (or -t) stdin is /dev/null, as with podman; with -i it is the launcher's.
    expect(read(out, 'stdin')).toBe('/dev/null\n');
    expect(read(out, 'stdin-interactive')).toBe(`${readlinkSync('/proc/self/fd/0')}\n`);
  }, 60_000);

  it('without pipefail runs every container, with it skips after the first failure; post containers always run and see the B2C_PIPELINE_* values', async () => {
    const line = (pipefail: boolean): string[] => [
      ...(pipefail ? ['b2c.pipefail'] : []),
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} sh -c 'touch /out/first; exit 3'"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} sh -c 'touch /out/second; exit 5'"`,
      `b2c.post_container="--tls-verify=false -v OUT:/out ${demo} sh -c 'env | grep ^B2C_PIPELINE_ | sort > /out/post-env'"`,
    ];
    const plain = await run(line(false));
    expect(plain.result.status).toBe(3);
    expect(existsSync(join(plain.out, 'second'))).toBe(true);
    expect(read(plain.out, 'post-env')).toBe(
      [
        `B2C_PIPELINE_FAILED_BY=--tls-verify=false -v ${plain.out}:/out ${demo} sh -c 'touch /out/first; exit 3'`,
        `B2C_PIPELINE_PREV_CONTAINER=--tls-verify=false -v ${plain.out}:/out ${demo} sh -c 'touch /out/second; exit 5'`,
        'B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE=5',
        'B2C_PIPELINE_SHUTDOWN_MODE=default',
        'B2C_PIPELINE_STATUS=3',
        '',
      ].join('\n'),
    );
    const failFast = await run(line(true));
    expect(failFast.result.status).toBe(3);
    expect(existsSync(join(failFast.out, 'first'))).toBe(true);
    expect(existsSync(join(failFast.out, 'second'))).toBe(false);
    expect(existsSync(join(failFast.out, 'post-env'))).toBe(true);
    expect(failFast.result.summary.containers.map((record) => record.outcome)).toEqual(['exited', 'skipped', 'exited']);
  }, 60_000);

  it('a reboot request (reboot(2) in the container) is the status as in b2c, asks for a reboot, and ocinit reads it as passed', async () => {
    const rebooting = await run([`b2c.container="--tls-verify=false ${demo} reboot -f"`]);
    expect(rebooting.result.summary.containers[0]).toMatchObject({ exitCode: 129, outcome: 'reboot_requested' });
    expect(rebooting.result).toMatchObject({ status: 129, end: 'reboot' });
    expect(rebooting.result.summary.outcome).toBe('passed');
    const both = await run([`b2c.container="--tls-verify=false ${demo} reboot -f"`, `b2c.container="--tls-verify=false ${demo} poweroff -f"`]);
    expect(both.result.summary.containers.map((record) => [record.exitCode, record.outcome])).toEqual([
      [129, 'reboot_requested'],
      [130, 'poweroff_requested'],
    ]);
    expect(both.result).toMatchObject({ status: 129, end: 'poweroff' });
  }, 60_000);

  it('a service runs detached while the containers do, sharing a named volume; its output goes to its file, not the console; it is stopped at the end', async () => {
    const { result, out, console } = await run([
      `b2c.service="--tls-verify=false -v shared:/shared ${demo} sh -c 'echo service-says-hello; echo service-complains >&2; while :; do date +%s > /shared/heartbeat; sleep 0.2; done'"`,
      `b2c.container="--tls-verify=false -v shared:/shared -v OUT:/out ${demo} sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /shared/heartbeat ] && break; sleep 0.5; done; cp /shared/heartbeat /out/seen'"`,
    ]);
    expect(result.status).toBe(0);
    expect(read(out, 'seen')).toMatch(/^\d+\n$/);
    const service = result.summary.containers[0];
    expect(service).toMatchObject({ parameter: 'b2c.service', outcome: 'stopped', log: expect.stringMatching(/services\/service-1\.log$/) });
    expect(console).toContain(`its output goes to ${service?.log ?? ''}`);
    expect(console).not.toContain('service-says-hello');
    // Read back through the name in the summary, before the run's tmpfs goes.
    expect(result.serviceLog).toBe('service-says-hello\nservice-complains\n');
  }, 60_000);

  it('b2c.service_output=console shows each service line on the console behind its [service-N] prefix', async () => {
    const { result, console } = await run([
      'b2c.service_output=console',
      `b2c.service="--tls-verify=false ${demo} sh -c 'echo service-says-hello; sleep 600'"`,
      `b2c.container="--tls-verify=false ${demo} sleep 1"`,
    ]);
    expect(result.status).toBe(0);
    expect(console).toMatch(/^\[[\d.]+\]: \[service-1\] service-says-hello$/m);
    expect(result.summary.containers[0]?.log).toBeUndefined();
  }, 60_000);

  it('b2c.container_timeout stops a hung container with 124 and the post containers still run', async () => {
    const { result, out } = await run([
      'b2c.container_timeout=2',
      `b2c.container="--tls-verify=false ${demo} sleep 600"`,
      `b2c.post_container="--tls-verify=false -v OUT:/out ${demo} touch /out/post"`,
    ]);
    expect(result.status).toBe(124);
    expect(result.summary.containers[0]).toMatchObject({ outcome: 'timeout', exitCode: 124 });
    expect(existsSync(join(out, 'post'))).toBe(true);
  }, 60_000);

  it('b2c.pipeline_timeout ends the running container with 124 and skips the rest; post containers still run', async () => {
    const { result, out } = await run([
      'b2c.pipeline_timeout=2',
      `b2c.container="--tls-verify=false ${demo} sleep 600"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} touch /out/second"`,
      `b2c.post_container="--tls-verify=false -v OUT:/out ${demo} touch /out/post"`,
    ]);
    expect(result.status).toBe(124);
    expect(result.summary.containers.map((record) => record.outcome)).toEqual(['timeout', 'skipped', 'exited']);
    expect(existsSync(join(out, 'second'))).toBe(false);
    expect(existsSync(join(out, 'post'))).toBe(true);
  }, 60_000);

  it('named volumes outlive a container; expiration=pipeline_end ones are removed at the end, never ones are kept', async () => {
    const state = tmpfsState();
    const { log } = capturingLogger();
    try {
      const lines = [
        'b2c.volume=scratch,expiration=pipeline_end',
        'b2c.volume=results',
        `b2c.container="--tls-verify=false -v scratch:/scratch -v results:/results ${demo} sh -c 'echo kept > /results/r; echo temporary > /scratch/s'"`,
        `b2c.container="--tls-verify=false -v scratch:/scratch -v results:/results ${demo} sh -c 'test -s /scratch/s && test -s /results/r'"`,
      ];
      const parsed = plan(lines);
      const storage = await openStorage(parsed, log, { ramRoot: state.dir });
      const result = await runPipeline(parsed, { storage, crun: { prefix: CRUN_PREFIX, stateDir: join(state.dir, 'crun') }, log, resolvConf: '/etc/resolv.conf' });
      expect(result.status).toBe(0);
      expect(readFileSync(join(storage.volumesDir, 'results', 'r'), 'utf8')).toBe('kept\n');
      expect(existsSync(join(storage.volumesDir, 'scratch'))).toBe(false);
    } finally {
      state.remove();
    }
  }, 60_000);

  it('a b2c.filesystem backs a volume: mounted at first use, what containers write lands on it', async () => {
    const image = join(work, 'volume.ext4');
    execFileSync('truncate', ['-s', '16M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    const { result } = await run([
      `b2c.filesystem=results,src=${image},type=ext4,opts=loop`,
      'b2c.volume=job,filesystem=results',
      `b2c.container="--tls-verify=false -v job:/job ${demo} sh -c 'echo on-the-filesystem > /job/result'"`,
    ]);
    expect(result.status).toBe(0);
    const mounted = mkdtempSync(join(work, 'check-'));
    execFileSync('mount', ['-o', 'loop,ro', image, mounted]);
    try {
      expect(readFileSync(join(mounted, 'result'), 'utf8')).toBe('on-the-filesystem\n');
    } finally {
      execFileSync('umount', [mounted]);
    }
  }, 60_000);

  it('an image whose blob fails verification fails its container in its turn with status 1; the others run, post containers too', async () => {
    const layout = join(work, 'corrupt-layout');
    const built = await buildImageLayout(layout, 'corrupt', corruptibleSpec(demoImageSpec({ Cmd: ['sh', '-c', 'echo ran > /out/corrupt'] })));
    const reference = await pushLayout(layout, 'corrupt', registry, { name: 'ocinit/corrupt' });
    const layer = built.layers[1]; // its own layer: the busybox one is shared with the good image
    if (layer === undefined) throw new Error('no layer');
    const blob = registry.blobDataPath(layer.digest);
    const bytes = readFileSync(blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(blob, bytes);
    const { result, out, console } = await run([
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} touch /out/before"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${reference}"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} sh -c 'echo $B2C_PIPELINE_STATUS $B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE > /out/after'"`,
      `b2c.post_container="--tls-verify=false -v OUT:/out ${demo} touch /out/post"`,
    ]);
    expect(console).toContain('failed verification');
    expect(existsSync(join(out, 'before'))).toBe(true);
    expect(existsSync(join(out, 'corrupt'))).toBe(false);
    expect(read(out, 'after')).toBe('1 1\n');
    expect(existsSync(join(out, 'post'))).toBe(true);
    expect(result.status).toBe(1);
    expect(result.summary.outcome).toBe('failed');
    expect(result.summary.containers.map((record) => [record.outcome, record.exitCode])).toEqual([
      ['exited', 0],
      ['pull_failed', 1],
      ['exited', 0],
      ['exited', 0],
    ]);
  }, 60_000);

  it('an image that cannot be pulled fails in its turn: with b2c.pipefail the later containers are skipped, post containers still run', async () => {
    const missing = demo.replace('ocinit/demo', 'ocinit/no-such-image');
    const { result, out } = await run([
      'b2c.pipefail',
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} touch /out/before"`,
      `b2c.container="--tls-verify=false ${missing}"`,
      `b2c.container="--tls-verify=false -v OUT:/out ${demo} touch /out/after"`,
      `b2c.post_container="--tls-verify=false -v OUT:/out ${demo} sh -c 'echo $B2C_PIPELINE_STATUS > /out/post'"`,
    ]);
    expect(existsSync(join(out, 'before'))).toBe(true);
    expect(existsSync(join(out, 'after'))).toBe(false);
    expect(read(out, 'post')).toBe('1\n');
    expect(result.status).toBe(1);
    expect(result.summary.containers.map((record) => record.outcome)).toEqual(['exited', 'pull_failed', 'skipped', 'exited']);
  }, 60_000);

  it('a fresh pull unpacks while it downloads; a tree left by an earlier job is used as it is', async () => {
    const state = tmpfsState();
    try {
      const jobs: string[] = [];
      const trees: number[] = [];
      for (let job = 0; job < 2; job++) {
        const { log, text } = capturingLogger();
        const parsed = plan([`b2c.container="--tls-verify=false ${demo} true"`]);
        // The same storage both times, as a cache device would be across boots.
        const storage = await openStorage(parsed, log, { ramRoot: state.dir });
        const result = await runPipeline(parsed, { storage, crun: { prefix: CRUN_PREFIX, stateDir: join(state.dir, 'crun') }, log, resolvConf: '/etc/resolv.conf', stopGraceMs: 500 });
        expect(result.status).toBe(0);
        jobs.push(text());
        const digest = /Pulled \S+@(sha256:[0-9a-f]{64})/.exec(text())?.[1] ?? '';
        trees.push(statSync(join(storage.imagesDir, digest.replace(':', '-'), 'bin', 'busybox')).ino);
      }
      expect(jobs[0]).toMatch(/Pulled \S+: 2 blob\(s\), [\d.]+ MB downloaded and unpacked in/);
      expect(jobs[1]).toMatch(/Pulled \S+: 0 blob\(s\), 0\.0 MB downloaded in [\d.]+ s, unpacked in/);
      expect(trees[1]).toBe(trees[0]);
    } finally {
      state.remove();
    }
  }, 60_000);
});
