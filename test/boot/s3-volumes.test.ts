// S3-mirrored volumes booted for real, as valve-infra / CI-tron jobs use them: b2c.minio names the
// RADOS gateway on the host (10.0.2.2 in the guest), the job's input is pulled at pipeline_start, its
// results pushed at pipeline_end, a log volume pushed as it changes. boto3 checks the buckets.
// Two boots: one job that succeeds, one whose gateway goes away before the final push.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, type BootResult } from '../../qemu/harness.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { bucketName, createBucket, getObject, listBucket, sharedS3Gateway, type S3Gateway } from '../support/s3-gateway.ts';
import { forwardTcp } from '../support/tcp-forward.ts';

let registry: TestRegistry;
let gateway: S3Gateway;
let work: string;
let demo: string;

/** OCINIT_INITRD: boot another initramfs than build/'s (e.g. an lz4 one while iterating). */
const INITRD = process.env.OCINIT_INITRD === undefined ? {} : { initrd: process.env.OCINIT_INITRD };

beforeAll(async () => {
  const started = sharedS3Gateway(inject('ocinitRunDir'));
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-s3-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  demo = (await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/demo' })).replace(/^127\.0\.0\.1:/, '10.0.2.2:');
  gateway = await started;
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const minio = (port: number): string => `b2c.minio="gateway,http://10.0.2.2:${port},${gateway.accessKey},${gateway.secretKey}"`;
const container = (flags: string, script: string): string => `b2c.container="--tls-verify=false ${flags} ${demo} sh -c '${script}'"`;

function expectEnded(result: BootResult): void {
  if (result.kernelPanic || result.status === undefined) process.stderr.write(result.console);
  expect(result.timedOut).toBe(false);
  expect(result.kernelPanic).toBe(false);
}

describe('S3 volumes boot', () => {
  it('a valve-infra-style job reads its input from the bucket and leaves its results there; a log volume is pushed while the job runs', async () => {
    const bucket = bucketName('job');
    createBucket(gateway, bucket, { 'job-42/input/dataset.txt': 'dataset-v7' });
    // Seen on the host while the container still runs: pushed by push_on=changes, not by the final push.
    let progressSeenEarly = false;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const keys = Object.keys(listBucket(gateway, bucket));
        if (keys.includes('logs/progress.txt') && !keys.includes('logs/done.txt')) progressSeenEarly = true;
        if (progressSeenEarly) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    const result = await boot({
      ...INITRD,
      timeoutSeconds: 240,
      append: [
        minio(gateway.port),
        `b2c.volume="job-42,mirror=gateway/${bucket}/job-42,pull_on=pipeline_start,push_on=pipeline_end,overwrite,exclude=*.tmp,expiration=pipeline_end"`,
        `b2c.volume="logs,mirror=gateway/${bucket}/logs,push_on=changes"`,
        container(
          '-v job-42:/job -v logs:/logs',
          'echo input is $(cat /job/input/dataset.txt); echo started > /logs/progress.txt; ' +
            'mkdir -p /job/results; echo passed:$(cat /job/input/dataset.txt) > /job/results/summary.txt; echo scratch > /job/results/big.tmp; ' +
            'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1; done; echo finished > /logs/done.txt',
        ),
      ],
    });
    polling = false;
    await poll;
    expectEnded(result);
    expect(result.console).toContain('input is dataset-v7');
    expect(result.status).toBe(0);
    const objects = listBucket(gateway, bucket);
    expect(Object.keys(objects).sort()).toEqual(['job-42/input/dataset.txt', 'job-42/results/summary.txt', 'logs/done.txt', 'logs/progress.txt']);
    expect(getObject(gateway, bucket, 'job-42/results/summary.txt')).toBe('passed:dataset-v7\n');
    expect(getObject(gateway, bucket, 'logs/done.txt')).toBe('finished\n');
    expect(progressSeenEarly).toBe(true);
    expect(result.console).not.toContain(gateway.secretKey);
  });

  it('a push whose gateway went away mid-job makes the status non-zero and names the files that did not reach the bucket', async () => {
    const bucket = bucketName('lost');
    createBucket(gateway, bucket);
    const forward = await forwardTcp(gateway.port);
    let stopped: Promise<void> | undefined;
    let seen = '';
    const result = await boot({
      ...INITRD,
      timeoutSeconds: 240,
      onOutput: (chunk) => {
        seen = (seen + chunk).slice(-200);
        if (stopped === undefined && seen.includes('RESULTS-42')) stopped = forward.stop();
      },
      append: [
        minio(forward.port),
        `b2c.volume="results,mirror=gateway/${bucket}/run,push_on=pipeline_end"`,
        container('-v results:/results', 'echo 1 > /results/a.txt; echo 2 > /results/b.txt; echo RESULTS-$((40+2)); sleep 3'),
      ],
    });
    await (stopped ?? forward.stop());
    expectEnded(result);
    expect(result.status).toBe(1);
    expect(result.console).toContain(`volume results: 2 file(s) did not reach gateway/${bucket}/run: a.txt, b.txt`);
    expect(listBucket(gateway, bucket)).toEqual({});
    expect(result.console).not.toContain(gateway.secretKey);
  });
});
