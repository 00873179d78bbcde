// The volume hooks on the host against the RADOS gateway: what each hook point moves, the change
// watcher, and the failures an operator must be able to act on. boto3 checks the buckets.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import { Logger } from '../../../src/log/logger.ts';
import { VolumeHooks } from '../../../src/run/volume-hooks.ts';
import { freePort } from '../../support/registry.ts';
import { boto3, bucketName, createBucket, getObject, listBucket, sharedS3Gateway, type S3Gateway } from '../../support/s3-gateway.ts';
import { forwardTcp } from '../../support/tcp-forward.ts';

let gateway: S3Gateway;
let root: string;

beforeAll(async () => {
  gateway = await sharedS3Gateway(inject('ocinitRunDir'));
  root = mkdtempSync(join(tmpdir(), 'ocinit-volume-hooks-'));
});

afterAll(() => {
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

interface Harness {
  hooks: VolumeHooks;
  dir: (name: string) => string;
  output: () => string;
}

function harness(line: string, url = gateway.url, secret = gateway.secretKey): Harness {
  const result = parseCommandLine(`b2c.minio=gw,${url},${gateway.accessKey},${secret} ${line}`, { env: {} });
  if (result.problems.length > 0) throw new Error(JSON.stringify(result.problems));
  const volumesDir = mkdtempSync(join(root, 'volumes-'));
  let text = '';
  const log = new Logger({ sink: (chunk) => (text += chunk), color: false });
  const dir = (name: string): string => join(volumesDir, name);
  const hooks = new VolumeHooks(result.plan, {
    log,
    volumePath: async (name) => {
      mkdirSync(dir(name), { recursive: true });
      return dir(name);
    },
    client: { attempts: 2, retryDelayMs: 10 },
    sync: { retryDelayMs: 10 },
    watchIntervalMs: 100,
  });
  return { hooks, dir, output: () => text };
}

describe('hook points', () => {
  test('pull at pipeline_start, push at pipeline_end, only what changed, excluded files stay home', async () => {
    const bucket = bucketName('job');
    createBucket(gateway, bucket, { 'job/in/input.txt': 'input data', 'job/in/tool.sh': '#!/bin/sh\n', 'elsewhere.txt': 'not ours' });
    const { hooks, dir, output } = harness(`b2c.volume=job,mirror=gw/${bucket}/job,pull_on=pipeline_start,push_on=pipeline_end,exclude=*.tmp,exclude=scratch/*`);
    expect(hooks.has('container_start')).toBe(false);
    expect(await hooks.run('pipeline_start')).toBe(true);
    expect(readFileSync(join(dir('job'), 'in/input.txt'), 'utf8')).toBe('input data');
    expect(() => statSync(join(dir('job'), 'elsewhere.txt'))).toThrow();
    // The job's results, and files the job keeps to itself.
    mkdirSync(join(dir('job'), 'out'));
    mkdirSync(join(dir('job'), 'scratch'));
    writeFileSync(join(dir('job'), 'out/result.json'), '{"passed": true}');
    writeFileSync(join(dir('job'), 'out/big.tmp'), 'x');
    writeFileSync(join(dir('job'), 'scratch/cache'), 'y');
    expect(await hooks.run('pipeline_end')).toBe(true);
    expect(Object.keys(listBucket(gateway, bucket)).sort()).toEqual(['elsewhere.txt', 'job/in/input.txt', 'job/in/tool.sh', 'job/out/result.json']);
    expect(getObject(gateway, bucket, 'job/out/result.json')).toBe('{"passed": true}');
    // The pulled files were not sent back: only the result moved.
    expect(output()).toContain(`volume job: pulled 2 file(s) from gw/${bucket}/job`);
    expect(output()).toContain(`volume job: pushed 1 file(s) to gw/${bucket}/job`);
  });

  test('container_start pulls and container_end pushes; remove mirrors deletions; overwrite replaces', async () => {
    const bucket = bucketName('each');
    createBucket(gateway, bucket, { 'old.txt': 'old', 'keep.txt': 'v1' });
    const { hooks, dir, output } = harness(`b2c.volume=each,mirror=gw/${bucket},pull_on=container_start,push_on=container_end,remove,overwrite`);
    expect(await hooks.run('pipeline_start')).toBe(true);
    expect(await hooks.run('container_start')).toBe(true);
    rmSync(join(dir('each'), 'old.txt'));
    writeFileSync(join(dir('each'), 'keep.txt'), 'version 2');
    const future = Date.now() / 1000 + 60;
    utimesSync(join(dir('each'), 'keep.txt'), future, future);
    expect(await hooks.run('container_end')).toBe(true);
    expect(listBucket(gateway, bucket)).toEqual({ 'keep.txt': expect.objectContaining({ size: 9 }) });
    expect(getObject(gateway, bucket, 'keep.txt')).toBe('version 2');
    expect(output()).toContain('removed 1');
    await hooks.close();
  });

  test('without overwrite, a differing file in the bucket is left and reported', async () => {
    const bucket = bucketName('keep');
    createBucket(gateway, bucket, { 'report.txt': 'the original' });
    const { hooks, dir, output } = harness(`b2c.volume=keep,mirror=gw/${bucket},push_on=pipeline_end`);
    expect(await hooks.run('pipeline_start')).toBe(true);
    writeFileSync(join(dir('keep'), 'report.txt'), 'a different report');
    expect(await hooks.run('pipeline_end')).toBe(true);
    expect(getObject(gateway, bucket, 'report.txt')).toBe('the original');
    expect(output()).toMatch(/volume keep: 1 file\(s\) differ and were left as they are \(no overwrite option\): report.txt/);
  });

  test('push_on=changes pushes while the job runs, then once more at pipeline_end', async () => {
    const bucket = bucketName('live');
    createBucket(gateway, bucket);
    const { hooks, dir } = harness(`b2c.volume=live,mirror=gw/${bucket}/log,push_on=changes|pipeline_end`);
    expect(hooks.has('container_end')).toBe(false);
    expect(await hooks.run('pipeline_start')).toBe(true);
    writeFileSync(join(dir('live'), 'progress.txt'), 'step 1');
    const deadline = Date.now() + 20_000;
    while (listBucket(gateway, bucket)['log/progress.txt'] === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(getObject(gateway, bucket, 'log/progress.txt')).toBe('step 1');
    writeFileSync(join(dir('live'), 'final.txt'), 'done');
    expect(await hooks.run('pipeline_end')).toBe(true);
    expect(getObject(gateway, bucket, 'log/final.txt')).toBe('done');
  });

  test('preserve keeps the mode and mtime through the bucket', async () => {
    const bucket = bucketName('attrs');
    createBucket(gateway, bucket);
    const first = harness(`b2c.volume=tools,mirror=gw/${bucket},push_on=pipeline_end,preserve`);
    expect(await first.hooks.run('pipeline_start')).toBe(true);
    writeFileSync(join(first.dir('tools'), 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o750 });
    utimesSync(join(first.dir('tools'), 'run.sh'), 1_600_000_000, 1_600_000_000);
    expect(await first.hooks.run('pipeline_end')).toBe(true);
    const second = harness(`b2c.volume=tools,mirror=gw/${bucket},pull_on=pipeline_start,preserve`);
    expect(await second.hooks.run('pipeline_start')).toBe(true);
    const info = statSync(join(second.dir('tools'), 'run.sh'));
    expect(info.mode & 0o777).toBe(0o750);
    expect(Math.floor(info.mtimeMs / 1000)).toBe(1_600_000_000);
    await second.hooks.run('pipeline_end');
  });
});

describe('encrypt_key= (SSE-C, as mcli --encrypt-key)', () => {
  test('objects are stored encrypted with the key: unreadable without it, the same bytes with it, pulled back by a volume with the key', async () => {
    const bucket = bucketName('sse');
    createBucket(gateway, bucket);
    const key = randomBytes(32);
    const b64 = key.toString('base64');
    const { hooks, dir, output } = harness(`b2c.volume=res,mirror=gw/${bucket},push_on=pipeline_end,encrypt_key=gw/${bucket}=${b64}`);
    expect(await hooks.run('pipeline_start')).toBe(true);
    const big = randomBytes(6 << 20); // above the part size: a multipart upload, each part with the key
    writeFileSync(join(dir('res'), 'small.txt'), 'secret results');
    writeFileSync(join(dir('res'), 'big.bin'), big);
    expect(await hooks.run('pipeline_end')).toBe(true);
    expect(output()).not.toContain(b64);

    // An independent client: without the key the gateway refuses to serve the objects, with it they are ours.
    const plain = boto3<string>(gateway, `
try:
    s3.get_object(Bucket=${JSON.stringify(bucket)}, Key="small.txt")
    print(json.dumps("served"))
except Exception as error:
    print(json.dumps(error.response["Error"]["Code"]))`);
    expect(plain).not.toBe('served');
    const digests = boto3<Record<string, string>>(gateway, `
import base64, hashlib
key = base64.b64decode(${JSON.stringify(b64)})
get = lambda name: s3.get_object(Bucket=${JSON.stringify(bucket)}, Key=name, SSECustomerAlgorithm="AES256", SSECustomerKey=key)["Body"].read()
print(json.dumps({name: hashlib.sha256(get(name)).hexdigest() for name in ["small.txt", "big.bin"]}))`);
    expect(digests).toEqual({ 'small.txt': createHash('sha256').update('secret results').digest('hex'), 'big.bin': createHash('sha256').update(big).digest('hex') });

    const back = harness(`b2c.volume=res,mirror=gw/${bucket},pull_on=pipeline_start,push_on=pipeline_end,encrypt_key=${b64}`);
    expect(await back.hooks.run('pipeline_start')).toBe(true);
    expect(readFileSync(join(back.dir('res'), 'small.txt'), 'utf8')).toBe('secret results');
    expect(readFileSync(join(back.dir('res'), 'big.bin')).equals(big)).toBe(true);
    // The listing gives the sizes of the plain bytes: nothing changed, nothing goes up again.
    expect(await back.hooks.run('pipeline_end')).toBe(true);
    expect(back.output()).toContain('pulled 2 file(s)');
    expect(back.output()).toContain(`pushed 0 file(s) to gw/${bucket}`);

    // Without the key, the pull fails and says which files it could not get.
    const keyless = harness(`b2c.volume=res,mirror=gw/${bucket},pull_on=pipeline_start`);
    expect(await keyless.hooks.run('pipeline_start')).toBe(false);
    expect(keyless.output()).toMatch(/volume res: 2 file\(s\) did not (come|arrive|reach)/);
  });
});

describe('failures name the volume and the bucket, never the secret', () => {
  test('a push whose gateway goes away mid-job fails and lists the files that did not reach the bucket', async () => {
    const bucket = bucketName('lost');
    createBucket(gateway, bucket);
    const forward = await forwardTcp(gateway.port);
    const { hooks, dir, output } = harness(`b2c.volume=res,mirror=gw/${bucket}/r,push_on=pipeline_end`, `http://127.0.0.1:${forward.port}`);
    expect(await hooks.run('pipeline_start')).toBe(true);
    writeFileSync(join(dir('res'), 'a.txt'), 'a');
    writeFileSync(join(dir('res'), 'b.txt'), 'b');
    await forward.stop();
    expect(await hooks.run('pipeline_end')).toBe(false);
    expect(output()).toContain(`volume res: the push to gw/${bucket}/r failed`);
    expect(output()).toContain(`volume res: 2 file(s) did not reach gw/${bucket}/r: a.txt, b.txt`);
    expect(output()).not.toContain(gateway.secretKey);
  });

  test('the files a push could not send are named, and the others arrive', async () => {
    const bucket = bucketName('half');
    createBucket(gateway, bucket);
    const forward = await forwardTcp(gateway.port, { dropWhen: (chunk) => chunk.includes('unlucky') });
    const { hooks, dir, output } = harness(`b2c.volume=res,mirror=gw/${bucket},push_on=pipeline_end`, `http://127.0.0.1:${forward.port}`);
    expect(await hooks.run('pipeline_start')).toBe(true);
    writeFileSync(join(dir('res'), 'fine.txt'), 'ok');
    writeFileSync(join(dir('res'), 'unlucky.txt'), 'never arrives');
    expect(await hooks.run('pipeline_end')).toBe(false);
    await forward.stop();
    expect(output()).toContain(`volume res: 1 file(s) did not reach gw/${bucket}: unlucky.txt`);
    expect(output()).toContain('retrying them once');
    expect(listBucket(gateway, bucket)).toEqual({ 'fine.txt': expect.objectContaining({ size: 2 }) });
  });

  test('a bucket that does not exist', async () => {
    const { hooks, output } = harness('b2c.volume=inputs,mirror=gw/no-such-bucket-x,pull_on=pipeline_start');
    expect(await hooks.run('pipeline_start')).toBe(false);
    expect(output()).toContain('volume inputs: cannot set up its mirror');
    expect(output()).toContain('S3 bucket gw/no-such-bucket-x does not exist');
  });

  test('wrong keys', async () => {
    const bucket = bucketName('keys');
    createBucket(gateway, bucket);
    const { hooks, output } = harness(`b2c.volume=inputs,mirror=gw/${bucket},pull_on=pipeline_start`, gateway.url, 'not-the-right-secret-key');
    expect(await hooks.run('pipeline_start')).toBe(false);
    expect(output()).toContain('volume inputs: cannot set up its mirror');
    expect(output()).toContain('check the access and secret keys of b2c.minio=gw');
    expect(output()).not.toContain('not-the-right-secret-key');
  });

  test('an unreachable endpoint', async () => {
    const port = await freePort();
    const { hooks, output } = harness('b2c.volume=inputs,mirror=gw/bucket,push_on=pipeline_end', `http://127.0.0.1:${port}`);
    expect(await hooks.run('pipeline_start')).toBe(false);
    expect(output()).toContain('volume inputs: cannot set up its mirror');
    expect(output()).toContain(`cannot reach http://127.0.0.1:${port}`);
  });
});
