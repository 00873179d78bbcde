// Debian's Ceph RADOS gateway on loopback: one monitor (msgr v1), one memstore OSD, pool size 1, no
// manager, no cephx, and one S3 user. About 12 s from nothing to serving S3, so a test run starts it
// once: the first test that asks for it starts it under the run's directory (vitest's globalSetup,
// test/support/s3-global-setup.ts, provides that directory and stops the daemons after the run).
// The daemons fork into the background themselves, so the gateway outlives the test file that
// started it and serves every later one.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './registry.ts';

export interface S3Gateway {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The directory holding ceph.conf, the daemons' data, logs and pid files. */
  dir: string;
}

export interface S3GatewayOptions {
  /** Bytes the memstore OSD may hold: memstore keeps every object in RAM (default 1 GiB). */
  storeBytes?: number;
}

const STATE_FILE = 's3-gateway.json';

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr.slice(-2000)}`);
  return result.stdout;
}

function logTail(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, 'log', `${name}.log`), 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

/**
 * A step seen failing now and then on a loaded machine, so it gets a few tries: the OSD daemon's start,
 * and the first command to the monitor just after it forked ("problem getting command descriptions
 * from mon": not serving yet). Both are idempotent (`osd create UUID` gives the same id again).
 */
async function retried(command: string, args: string[], dir: string, name: string, attempts = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      run(command, args, dir);
      return;
    } catch (error) {
      if (attempt >= attempts) throw new Error(`${(error as Error).message}\n${logTail(dir, name)}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function waitForS3(url: string, dir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const logs = readdirSync(join(dir, 'log')).map((name) => readFileSync(join(dir, 'log', name), 'utf8').slice(-1500));
  throw new Error(`the RADOS gateway did not serve ${url} within 60 s:\n${logs.join('\n')}`);
}

/** Starts a gateway in `dir` (created) and returns how to reach it; stopS3Gateway(dir) ends it. */
export async function startS3Gateway(dir: string, options: S3GatewayOptions = {}): Promise<S3Gateway> {
  for (const sub of ['run', 'log', 'mon', 'osd/0', 'rgw']) mkdirSync(join(dir, sub), { recursive: true });
  const monPort = await freePort();
  const port = await freePort();
  const fsid = randomUUID();
  const osdUuid = randomUUID();
  const config = [
    '[global]',
    `fsid = ${fsid}`,
    `mon host = v1:127.0.0.1:${monPort}`,
    'mon initial members = a',
    'auth cluster required = none',
    'auth service required = none',
    'auth client required = none',
    'auth allow insecure global id reclaim = true',
    'mon warn on insecure global id reclaim allowed = false',
    'mon data avail warn = 1',
    'mon data avail crit = 0',
    'ms bind msgr2 = false',
    'osd objectstore = memstore',
    `memstore device bytes = ${options.storeBytes ?? 1 << 30}`,
    'osd pool default size = 1',
    'osd pool default min size = 1',
    'osd pool default pg num = 8',
    'osd pool default pgp num = 8',
    'osd crush chooseleaf type = 0',
    'mon allow pool size one = true',
    'mon warn on pool no redundancy = false',
    `run dir = ${dir}/run`,
    `admin socket = ${dir}/run/$name.asok`,
    `log file = ${dir}/log/$name.log`,
    `pid file = ${dir}/run/$name.pid`,
    `mon data = ${dir}/mon/$id`,
    `osd data = ${dir}/osd/$id`,
    `keyring = ${dir}/keyring`,
    '[client.rgw]',
    // SSE-C (b2c.volume's encrypt_key=) over plain HTTP on loopback; the gateway refuses it otherwise.
    'rgw crypt require ssl = false',
    `rgw frontends = beast endpoint=127.0.0.1:${port}`,
    `rgw data = ${dir}/rgw`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'ceph.conf'), config);
  const conf = ['-c', join(dir, 'ceph.conf')];
  try {
    run('monmaptool', ['--create', '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')], dir);
    run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], dir);
    run('ceph-mon', [...conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')], dir);
    run('ceph-mon', [...conf, '-i', 'a'], dir);
    await retried('ceph', [...conf, 'osd', 'create', osdUuid], dir, 'mon.a', 10);
    run('ceph-osd', [...conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], dir);
    await retried('ceph-osd', [...conf, '-i', '0'], dir, 'osd.0');
    run('radosgw', [...conf, '-n', 'client.rgw'], dir);
    const url = `http://127.0.0.1:${port}`;
    await waitForS3(url, dir);
    const accessKey = `OCINIT${randomBytes(7).toString('hex').toUpperCase()}`;
    const secretKey = randomBytes(20).toString('base64url');
    run('radosgw-admin', [...conf, '-n', 'client.rgw', 'user', 'create', '--uid', 'ocinit', '--display-name', 'ocinit tests', '--access-key', accessKey, '--secret-key', secretKey], dir);
    return { url, port, accessKey, secretKey, region: 'us-east-1', dir };
  } catch (error) {
    stopS3Gateway(dir);
    throw error;
  }
}

/** Stops the daemons whose pid files are in `dir`/run and removes `dir`. */
export function stopS3Gateway(dir: string): void {
  const runDir = join(dir, 'run');
  const pids = existsSync(runDir)
    ? readdirSync(runDir)
        .filter((name) => name.endsWith('.pid'))
        .map((name) => Number(readFileSync(join(runDir, name), 'utf8').trim()))
        .filter((pid) => Number.isInteger(pid) && pid > 1)
    : [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The test run's gateway, started by the first caller. `runDir` comes from the globalSetup
 * (`inject('ocinitRunDir')`); outside vitest (bench scripts) start one with startS3Gateway.
 */
export async function sharedS3Gateway(runDir: string): Promise<S3Gateway> {
  const state = join(runDir, STATE_FILE);
  const lock = join(runDir, 's3-gateway.lock');
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (existsSync(state)) return JSON.parse(readFileSync(state, 'utf8')) as S3Gateway;
    try {
      mkdirSync(lock);
    } catch {
      // Another worker is starting it.
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    try {
      const gateway = await startS3Gateway(join(runDir, 's3-gateway'));
      writeFileSync(`${state}.tmp`, JSON.stringify(gateway));
      renameSync(`${state}.tmp`, state);
      return gateway;
    } catch (error) {
      rmSync(lock, { recursive: true, force: true });
      throw error;
    }
  }
  throw new Error('timed out waiting for another test file to start the RADOS gateway');
}

/** For the globalSetup's teardown: stops the run's gateway if a test started one. */
export function stopSharedS3Gateway(runDir: string): void {
  if (existsSync(join(runDir, 's3-gateway'))) stopS3Gateway(join(runDir, 's3-gateway'));
}

/** A fresh bucket name, unique within the run. */
export function bucketName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`.toLowerCase();
}

/**
 * Runs Debian's python3-boto3 (an independent S3 client) against the gateway: `script` reads the
 * client as `s3` and prints its answer as JSON on stdout.
 */
export function boto3<T>(gateway: S3Gateway, script: string): T {
  const prelude = [
    'import boto3, json, sys',
    'from botocore.config import Config',
    `s3 = boto3.client("s3", endpoint_url=${JSON.stringify(gateway.url)}, aws_access_key_id=${JSON.stringify(gateway.accessKey)}, aws_secret_access_key=${JSON.stringify(gateway.secretKey)}, region_name=${JSON.stringify(gateway.region)}, config=Config(s3={"addressing_style": "path"}))`,
  ].join('\n');
  const out = execFileSync('/usr/bin/python3', ['-c', `${prelude}\n${script}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out) as T;
}

/** Every key of a bucket with its size and ETag (quotes removed), as boto3 lists them. */
export function listBucket(gateway: S3Gateway, bucket: string): Record<string, { size: number; etag: string }> {
  return boto3(
    gateway,
    [
      'out = {}',
      `for page in s3.get_paginator("list_objects_v2").paginate(Bucket=${JSON.stringify(bucket)}):`,
      '    for o in page.get("Contents", []): out[o["Key"]] = {"size": o["Size"], "etag": o["ETag"].strip(chr(34))}',
      'print(json.dumps(out))',
    ].join('\n'),
  );
}

export function createBucket(gateway: S3Gateway, bucket: string, objects: Record<string, string> = {}): void {
  boto3(
    gateway,
    [
      `s3.create_bucket(Bucket=${JSON.stringify(bucket)})`,
      `for key, body in ${JSON.stringify(objects)}.items(): s3.put_object(Bucket=${JSON.stringify(bucket)}, Key=key, Body=body.encode())`,
      'print("null")',
    ].join('\n'),
  );
}

export function getObject(gateway: S3Gateway, bucket: string, key: string): string {
  return boto3<string>(gateway, `print(json.dumps(s3.get_object(Bucket=${JSON.stringify(bucket)}, Key=${JSON.stringify(key)})["Body"].read().decode()))`);
}
