// The pipeline's hook points with the real volume hooks, crun containers on the host and the RADOS
// gateway: b2c's status rules for the hooks, and containers reading and writing mirrored volumes.
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoImageSpec } from '../../../qemu/demo-image.ts';
import { openStorage } from '../../../src/cache/index.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import { runPipeline, type PipelineResult } from '../../../src/run/index.ts';
import { VolumeHooks } from '../../../src/run/volume-hooks.ts';
import { Volumes } from '../../../src/run/volumes.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { bucketName, createBucket, getObject, sharedS3Gateway, type S3Gateway } from '../../support/s3-gateway.ts';
import { capturingLogger, CRUN_PREFIX, tmpfsState } from '../run/host.ts';

let registry: TestRegistry;
let gateway: S3Gateway;
let work: string;
let demo: string;

beforeAll(async () => {
  const started = sharedS3Gateway(inject('ocinitRunDir'));
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-pipeline-hooks-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  demo = await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/demo' });
  gateway = await started;
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

async function run(words: string[]): Promise<{ result: PipelineResult; out: string; console: string }> {
  const out = mkdtempSync(join(work, 'out-'));
  chmodSync(out, 0o777);
  const state = tmpfsState();
  const { log, text } = capturingLogger();
  try {
    const line = [`b2c.minio=gw,${gateway.url},${gateway.accessKey},${gateway.secretKey}`, ...words].join(' ').replaceAll('OUT', out);
    const parsed = parseCommandLine(line, { env: {} });
    expect(parsed.problems).toEqual([]);
    const storage = await openStorage(parsed.plan, log, { ramRoot: state.dir });
    const volumes = new Volumes(storage.volumesDir, parsed.plan, log, { persistent: storage.persistent });
    const hooks = new VolumeHooks(parsed.plan, { log, volumePath: (name) => volumes.named(name), client: { attempts: 2, retryDelayMs: 10 }, sync: { retryDelayMs: 10 } });
    const result = await runPipeline(parsed.plan, { storage, crun: { prefix: CRUN_PREFIX, stateDir: join(state.dir, 'crun') }, log, resolvConf: '/etc/resolv.conf', stopGraceMs: 500, volumes, hooks });
    return { result, out, console: text() };
  } finally {
    state.remove();
  }
}

const container = (parameter: string, flags: string, script: string): string => `${parameter}="--tls-verify=false ${flags} ${demo} sh -c '${script}'"`;

describe('hook points in the pipeline', () => {
  it('containers read what container_start pulled, and container_end pushes what they wrote', async () => {
    const bucket = bucketName('turns');
    createBucket(gateway, bucket, { 'in/config.txt': 'mode=fast' });
    const { result, console: text } = await run([
      `b2c.volume=work,mirror=gw/${bucket},pull_on=container_start,push_on=container_end`,
      container('b2c.container', '-v work:/work', 'cat /work/in/config.txt > /work/seen-by-first.txt'),
      container('b2c.container', '-v work:/work', 'test -s /work/seen-by-first.txt && echo second > /work/second.txt'),
    ]);
    expect(result.status).toBe(0);
    expect(getObject(gateway, bucket, 'seen-by-first.txt')).toBe('mode=fast');
    expect(getObject(gateway, bucket, 'second.txt')).toBe('second\n');
    expect(text).toContain('Execute the container_end hooks');
  }, 120_000);

  it('a volume set-up that fails (no such bucket) is status 1 and no container runs, not even post containers', async () => {
    const { result, out, console: text } = await run([
      'b2c.volume=inputs,mirror=gw/no-such-bucket-for-the-pipeline,pull_on=pipeline_start',
      container('b2c.container', '-v OUT:/out', 'touch /out/ran'),
      container('b2c.post_container', '-v OUT:/out', 'touch /out/post'),
    ]);
    expect(result.status).toBe(1);
    expect(existsSync(join(out, 'ran'))).toBe(false);
    expect(existsSync(join(out, 'post'))).toBe(false);
    expect(text).toContain('volume inputs: cannot set up its mirror');
    expect(text).not.toContain(gateway.secretKey);
  }, 120_000);

  it('a pipeline_end push that fails turns a passing job into status 1; a failing container keeps its own status', async () => {
    const fine = bucketName('end');
    createBucket(gateway, fine);
    const passed = await run([`b2c.volume=results,mirror=gw/${fine},push_on=pipeline_end`, container('b2c.container', '-v results:/results', 'echo ok > /results/report.txt')]);
    expect(passed.result.status).toBe(0);
    expect(getObject(gateway, fine, 'report.txt')).toBe('ok\n');
    // A key the gateway refuses to store: longer than S3's 1024-byte limit.
    const long = `${'d'.repeat(250)}/`.repeat(5);
    const refused = bucketName('end');
    createBucket(gateway, refused);
    const failedPush = await run([
      `b2c.volume=results,mirror=gw/${refused},push_on=pipeline_end`,
      container('b2c.container', '-v results:/results', `mkdir -p /results/${long} && echo x > /results/${long}f`),
    ]);
    expect(failedPush.result.status).toBe(1);
    expect(failedPush.console).toMatch(new RegExp(`volume results: 1 file\\(s\\) did not reach gw/${refused}`));
    const failedJob = await run([
      `b2c.volume=results,mirror=gw/${refused},push_on=pipeline_end`,
      container('b2c.container', '-v results:/results', `mkdir -p /results/${long} && echo x > /results/${long}f; exit 3`),
    ]);
    expect(failedJob.result.status).toBe(3);
  }, 180_000);
});
