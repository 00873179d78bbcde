// ocinit's S3 client against Debian's RADOS gateway, checked with boto3 (an independent client).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { describeError } from '../../../src/log/errors.ts';
import { Secret } from '../../../src/log/secret.ts';
import { S3Client, S3Error, type S3Endpoint } from '../../../src/s3/client.ts';
import { boto3, bucketName, createBucket, getObject, listBucket, sharedS3Gateway, type S3Gateway } from '../../support/s3-gateway.ts';
import { freePort } from '../../support/registry.ts';

let gateway: S3Gateway;
let dir: string;
let bucket: string;
const clients: S3Client[] = [];

function endpoint(overrides: Partial<S3Endpoint> = {}): S3Endpoint {
  return { alias: 'gateway', url: gateway.url, accessKey: new Secret(gateway.accessKey), secretKey: new Secret(gateway.secretKey), ...overrides };
}

function client(overrides: Partial<S3Endpoint> = {}, options: ConstructorParameters<typeof S3Client>[1] = {}): S3Client {
  const made = new S3Client(endpoint(overrides), { retryDelayMs: 10, ...options });
  clients.push(made);
  return made;
}

beforeAll(async () => {
  gateway = await sharedS3Gateway(inject('ocinitRunDir'));
  dir = mkdtempSync(join(tmpdir(), 'ocinit-s3-client-'));
  bucket = bucketName('client');
  createBucket(gateway, bucket, { 'in/one.txt': 'one', 'in/two.txt': 'two two' });
});

afterAll(async () => {
  for (const made of clients) await made.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('objects', () => {
  test('PUT, HEAD, GET and DELETE round-trip, as boto3 sees them', async () => {
    const s3 = client();
    const file = join(dir, 'report file (1).txt');
    writeFileSync(file, 'results: 42\n');
    const etag = await s3.putFile(bucket, 'out/report file (1).txt', file, { 'mc-attrs': 'mode:33188' });
    expect(etag).toBe(createHash('md5').update('results: 42\n').digest('hex'));
    expect(getObject(gateway, bucket, 'out/report file (1).txt')).toBe('results: 42\n');
    const head = await s3.head(bucket, 'out/report file (1).txt');
    expect(head).toMatchObject({ size: 12, etag, metadata: { 'mc-attrs': 'mode:33188' } });
    const copy = join(dir, 'copy.txt');
    await s3.getToFile(bucket, 'in/two.txt', copy);
    expect(readFileSync(copy, 'utf8')).toBe('two two');
    await s3.delete(bucket, 'out/report file (1).txt');
    expect(Object.keys(listBucket(gateway, bucket))).not.toContain('out/report file (1).txt');
    expect(await s3.head(bucket, 'out/report file (1).txt')).toBeUndefined();
  });

  test('a large file goes up in streamed parts and lands whole, with a multipart ETag', async () => {
    const s3 = client({}, { partSize: 5 << 20 });
    const file = join(dir, 'big.bin');
    const data = randomBytes((12 << 20) + 123);
    writeFileSync(file, data);
    const etag = await s3.putFile(bucket, 'big.bin', file);
    expect(etag).toMatch(/-3$/);
    const listed = listBucket(gateway, bucket)['big.bin'];
    expect(listed).toEqual({ size: data.length, etag });
    const md5 = boto3<string>(gateway, `import hashlib\nprint(json.dumps(hashlib.md5(s3.get_object(Bucket=${JSON.stringify(bucket)}, Key="big.bin")["Body"].read()).hexdigest()))`);
    expect(md5).toBe(createHash('md5').update(data).digest('hex'));
  });

  test('listing follows continuation tokens past one page', async () => {
    const many = bucketName('list');
    const objects = Object.fromEntries(Array.from({ length: 7 }, (_, index) => [`k/${index}`, `v${index}`]));
    createBucket(gateway, many, { ...objects, 'other/x': 'x' });
    const s3 = client({}, { listPageSize: 3 });
    const keys: string[] = [];
    for await (const object of s3.list(many, 'k/')) keys.push(object.key);
    expect(keys).toEqual(Object.keys(objects));
  });
});

describe('failures name the alias, bucket and key, and the server code, never the secret', () => {
  test('a wrong secret is refused by the gateway', async () => {
    const s3 = client({ secretKey: new Secret('wrong-secret-for-the-test') });
    const error = await s3.getText(bucket, 'in/one.txt').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(S3Error);
    const s3Error = error as S3Error;
    expect(s3Error.serverCode).toBe('SignatureDoesNotMatch');
    expect(s3Error.status).toBe(403);
    const text = describeError(error);
    expect(text).toContain(`gateway/${bucket}/in/one.txt`);
    expect(text).toContain('keys of b2c.minio=gateway');
    expect(text).not.toContain('wrong-secret-for-the-test');
    expect(text).not.toContain(gateway.secretKey);
  });

  test('an unknown access key', async () => {
    const error = (await client({ accessKey: new Secret('NOSUCHKEY0000') }).checkBucket(bucket).catch((caught: unknown) => caught)) as S3Error;
    expect(error).toBeInstanceOf(S3Error);
    expect(error.status).toBe(403);
  });

  test('a bucket that does not exist', async () => {
    const s3 = client();
    const error = (await s3.checkBucket('no-such-bucket-here').catch((caught: unknown) => caught)) as S3Error;
    expect(error.serverCode).toBe('NoSuchBucket');
    expect(describeError(error)).toContain('gateway/no-such-bucket-here');
    const listing = (await (async () => {
      for await (const object of s3.list('no-such-bucket-here')) void object;
    })().catch((caught: unknown) => caught)) as S3Error;
    expect(listing.serverCode).toBe('NoSuchBucket');
  });

  test('an unreachable endpoint, after its retries', async () => {
    const port = await freePort();
    const error = (await client({ url: `http://127.0.0.1:${port}` }, { attempts: 2 }).checkBucket(bucket).catch((caught: unknown) => caught)) as S3Error;
    expect(error).toBeInstanceOf(S3Error);
    expect(error.serverCode).toBe('ECONNREFUSED');
    expect(describeError(error)).toContain(`cannot reach http://127.0.0.1:${port}`);
  });
});
