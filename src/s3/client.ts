// A small S3 client (path-style URLs, SigV4) on the registry client's undici dispatcher: the object
// calls a mirror needs, streamed from and to files, with retries on what a retry can cure.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OcinitError } from '../log/errors.ts';
import { noteStreamedBytes } from '../system/memory.ts';
import type { Logger } from '../log/logger.ts';
import type { Secret } from '../log/secret.ts';
import { createDispatcher, isConnectionError, request, sleep, type Dispatcher } from '../oci/http-client.ts';
import { EMPTY_SHA256, encodeKeyPath, sha256Hex, signedHeaders, UNSIGNED_PAYLOAD, uriEncode } from './signer.ts';
import { element, escapeXml, parseError, parseListPage, type ListedObject } from './xml.ts';
import type { ProxyConfig } from '../net/proxy-config.ts';

export interface S3Endpoint {
  /** The b2c.minio alias, for messages. */
  alias: string;
  /** `http(s)://host[:port][/prefix]` */
  url: string;
  accessKey: Secret;
  secretKey: Secret;
  /** Any region name the server accepts; S3-compatible servers mostly ignore it (default us-east-1). */
  region?: string;
}

export interface S3ClientOptions {
  tlsVerify?: boolean;
  caFile?: string;
  /** b2c.proxy. */
  proxy?: ProxyConfig | undefined;
  log?: Logger;
  timeoutMs?: number;
  /** Attempts for connection errors, 5xx and 429 (default 5); the delay doubles from retryDelayMs. */
  attempts?: number;
  retryDelayMs?: number;
  /**
   * Files larger than this go up in parts of this size (default 5 MiB, S3's minimum). Parts are sent from
   * memory, partSize x partConcurrency in all (default 2): with 4 parts of 8 MiB a push peaked at 122 MB
   * RSS, with 2 of 5 MiB under 100 MB (bench/volumes), no slower against the gateway.
   */
  partSize?: number;
  /** Parts of one file in flight at once (default 2). */
  partConcurrency?: number;
  /** Keys per ListObjectsV2 page (default 1000, S3's maximum). */
  listPageSize?: number;
  /**
   * SSE-C: objects are stored encrypted with this AES-256 key (the base64 of 32 bytes), which the server
   * never keeps; reading them needs it again (b2c.volume's encrypt_key=, mcli's --encrypt-key).
   */
  customerKey?: Secret;
}

export interface ObjectHead {
  size: number;
  etag: string;
  lastModified: Date;
  /** `x-amz-meta-*` headers, names without the prefix. */
  metadata: Record<string, string>;
}

/** An S3 call that failed for good: which alias, bucket and key, and the server's own error code. */
export class S3Error extends OcinitError {
  override readonly code: string = 'OCINIT_S3';
  readonly alias: string;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly status: number | undefined;
  /** The server's error code (`NoSuchBucket`, `SignatureDoesNotMatch` ...) or the connection error's. */
  readonly serverCode: string | undefined;

  constructor(message: string, details: { alias: string; bucket: string; key?: string | undefined; status?: number | undefined; code?: string | undefined; url: string; hint: string; cause?: unknown }) {
    super(message, { url: details.url, hint: details.hint, cause: details.cause });
    this.alias = details.alias;
    this.bucket = details.bucket;
    this.key = details.key;
    this.status = details.status;
    this.serverCode = details.code;
  }
}

function hintFor(code: string | undefined, status: number | undefined, alias: string): string {
  if (code === 'NoSuchBucket') return 'create the bucket, or correct the bucket in mirror=/pull_from=/push_to=';
  if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'AccessDenied' || status === 403)
    return `check the access and secret keys of b2c.minio=${alias}, and that this user may use the bucket`;
  if (status === undefined) return `check that the URL of b2c.minio=${alias} is right and reachable from this machine`;
  return 'the S3 server refused the request: see its error code';
}

interface Call {
  operation: string;
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE' | 'POST';
  bucket: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A fresh body for each attempt, and its length; bodies without a hash go as UNSIGNED-PAYLOAD. */
  body?: { open: () => Readable | Buffer; length: number; sha256?: string };
  /** Statuses that are answers, not failures (404 for HEAD). */
  accept?: number[];
}

/** Files up to this size are sent from memory (see putFile). */
const SMALL_FILE_BYTES = 1 << 20;

/** Read size of streamed bodies: 64 KiB reads made each streamed PUT ~100 ms slower against Ceph's gateway. */
const STREAM_CHUNK_BYTES = 1 << 20;

/**
 * Young-generation collections while an object downloads: every 2 MiB (registry blobs: 8 MiB) took a
 * 300 MB pull's peak RSS from 107 to about 93 MB; the pull is the volume's, beside the job's RAM.
 */
const DOWNLOAD_COLLECT_BYTES = 2 << 20;

const RETRIED_STATUS = (status: number): boolean => status >= 500 || status === 429;

export class S3Client {
  readonly alias: string;
  readonly #base: URL;
  readonly #credentials: { accessKey: Secret; secretKey: Secret; region: string };
  readonly #dispatcher: Dispatcher;
  readonly #log: Logger | undefined;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly partSize: number;
  readonly #partConcurrency: number;
  readonly #listPageSize: number;
  readonly #customerKey: Record<string, string>;

  constructor(endpoint: S3Endpoint, options: S3ClientOptions = {}) {
    this.alias = endpoint.alias;
    this.#base = new URL(endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
    this.#credentials = { accessKey: endpoint.accessKey, secretKey: endpoint.secretKey, region: endpoint.region ?? 'us-east-1' };
    this.#dispatcher = createDispatcher({ tlsVerify: options.tlsVerify ?? true, caFile: options.caFile, proxy: options.proxy, timeoutMs: options.timeoutMs ?? 30_000 });
    this.#log = options.log;
    this.#attempts = options.attempts ?? 5;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.partSize = Math.max(options.partSize ?? 5 << 20, 5 << 20);
    this.#partConcurrency = options.partConcurrency ?? 2;
    this.#listPageSize = options.listPageSize ?? 1000;
    this.#customerKey = options.customerKey === undefined ? {} : customerKeyHeaders(options.customerKey);
  }

  /** What messages show: `alias/bucket/key` (never the keys). */
  where(bucket: string, key?: string): string {
    return [this.alias, bucket, ...(key === undefined ? [] : [key])].join('/');
  }

  #url(bucket: string, key: string | undefined, query: Record<string, string> | undefined): string {
    const path = `${this.#base.pathname}${uriEncode(bucket)}${key === undefined ? '' : `/${encodeKeyPath(key)}`}`;
    const search = query === undefined ? '' : Object.entries(query).map(([name, value]) => (value === '' ? uriEncode(name) : `${uriEncode(name)}=${uriEncode(value)}`)).join('&');
    return `${this.#base.origin}${path}${search === '' ? '' : `?${search}`}`;
  }

  async #call(call: Call): Promise<Dispatcher.ResponseData> {
    const url = this.#url(call.bucket, call.key, call.query);
    const accept = call.accept ?? [];
    let delay = this.#retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.#attempts;
      const payloadHash = call.body === undefined ? EMPTY_SHA256 : (call.body.sha256 ?? UNSIGNED_PAYLOAD);
      const headers = signedHeaders(
        { method: call.method, url, payloadHash, date: new Date(), headers: { ...call.headers, ...(call.body === undefined ? {} : { 'content-length': String(call.body.length) }) } },
        this.#credentials,
      );
      let response: Dispatcher.ResponseData;
      const body = call.body?.open() ?? null;
      try {
        response = await request(url, { method: call.method, headers, body, dispatcher: this.#dispatcher });
      } catch (error) {
        if (body !== null && !Buffer.isBuffer(body)) body.destroy();
        if (last || !isConnectionError(error)) throw this.#connectionError(call, error);
        this.#log?.warn(`S3 ${call.operation} ${this.where(call.bucket, call.key)}: ${(error as Error).message}; retrying in ${delay} ms`);
        await sleep(delay);
        delay *= 2;
        continue;
      }
      if ((response.statusCode >= 200 && response.statusCode < 300) || accept.includes(response.statusCode)) return response;
      const text = call.method === 'HEAD' ? '' : await response.body.text().catch(() => '');
      if (call.method === 'HEAD') await response.body.dump().catch(() => undefined);
      const server = parseError(text);
      if (!last && RETRIED_STATUS(response.statusCode)) {
        this.#log?.warn(`S3 ${call.operation} ${this.where(call.bucket, call.key)}: HTTP ${response.statusCode}${server.code === undefined ? '' : ` ${server.code}`}; retrying in ${delay} ms`);
        await sleep(delay);
        delay *= 2;
        continue;
      }
      const code = server.code ?? (response.statusCode === 404 && call.key === undefined ? 'NoSuchBucket' : undefined);
      const detail = [code, server.message].filter((part) => part !== undefined && part !== '').join(': ');
      throw new S3Error(`S3 ${call.operation} of ${this.where(call.bucket, call.key)} failed: HTTP ${response.statusCode}${detail === '' ? '' : ` (${detail})`}`, {
        alias: this.alias,
        bucket: call.bucket,
        key: call.key,
        status: response.statusCode,
        code,
        url: this.#base.origin,
        hint: hintFor(code, response.statusCode, this.alias),
      });
    }
  }

  #connectionError(call: Call, error: unknown): S3Error {
    const code = (error as { code?: unknown }).code;
    return new S3Error(`S3 ${call.operation} of ${this.where(call.bucket, call.key)} failed: cannot reach ${this.#base.origin}: ${(error as Error).message}`, {
      alias: this.alias,
      bucket: call.bucket,
      key: call.key,
      code: typeof code === 'string' ? code : undefined,
      url: this.#base.origin,
      hint: hintFor(undefined, undefined, this.alias),
      cause: error,
    });
  }

  /** Fails with NoSuchBucket, wrong keys or an unreachable server before any transfer starts. */
  async checkBucket(bucket: string): Promise<void> {
    const response = await this.#call({ operation: 'HEAD bucket', method: 'HEAD', bucket, accept: [404] });
    await response.body.dump();
    if (response.statusCode === 404) {
      throw new S3Error(`S3 bucket ${this.where(bucket)} does not exist`, { alias: this.alias, bucket, status: 404, code: 'NoSuchBucket', url: this.#base.origin, hint: hintFor('NoSuchBucket', 404, this.alias) });
    }
  }

  /** Every object under `prefix`, page by page (ListObjectsV2 with continuation tokens). */
  async *list(bucket: string, prefix = ''): AsyncGenerator<ListedObject> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', 'max-keys': String(this.#listPageSize), ...(prefix === '' ? {} : { prefix }), ...(token === undefined ? {} : { 'continuation-token': token }) };
      const response = await this.#call({ operation: 'list', method: 'GET', bucket, query });
      const page = parseListPage(await response.body.text());
      yield* page.objects;
      token = page.nextContinuationToken;
    } while (token !== undefined);
  }

  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    const response = await this.#call({ operation: 'HEAD', method: 'HEAD', bucket, key, headers: this.#customerKey, accept: [404] });
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    return headOf(response.headers);
  }

  /** Downloads to `path` through a temporary file beside it, renamed into place once complete. */
  async getToFile(bucket: string, key: string, path: string): Promise<ObjectHead> {
    const response = await this.#call({ operation: 'GET', method: 'GET', bucket, key, headers: this.#customerKey });
    const partial = `${path}.ocinit-partial`;
    try {
      await pipeline(
        response.body,
        async function* (chunks: AsyncIterable<Buffer>) {
          // As for registry blobs: without a young-generation collection every few MB, dead chunks
          // piled up to ~130 MB over an idle process while a 500 MB object came down.
          for await (const chunk of chunks) {
            noteStreamedBytes(chunk.length, DOWNLOAD_COLLECT_BYTES);
            yield chunk;
          }
        },
        createWriteStream(partial),
      );
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw this.#connectionError({ operation: 'GET', method: 'GET', bucket, key }, error);
    }
    return headOf(response.headers);
  }

  async getText(bucket: string, key: string): Promise<string> {
    const response = await this.#call({ operation: 'GET', method: 'GET', bucket, key, headers: this.#customerKey });
    return response.body.text();
  }

  async putBuffer(bucket: string, key: string, data: Buffer, metadata: Record<string, string> = {}): Promise<string> {
    const response = await this.#call({ operation: 'PUT', method: 'PUT', bucket, key, headers: { ...metaHeaders(metadata), ...this.#customerKey }, body: { open: () => data, length: data.length, sha256: sha256Hex(data) } });
    await response.body.dump();
    return (headerValue(response.headers, 'etag') ?? '').replace(/"/g, '');
  }

  /** Uploads a file, streamed: one PUT up to partSize, a multipart upload above. Returns the ETag. */
  async putFile(bucket: string, key: string, path: string, metadata: Record<string, string> = {}): Promise<string> {
    const { size } = await stat(path);
    // A streamed body costs ~100 ms a request against Ceph's gateway (measured: 100 ms vs 2 ms for
    // a 2 KB file); small files are read whole instead, at most SMALL_FILE_BYTES per request in flight.
    if (size <= SMALL_FILE_BYTES) return this.putBuffer(bucket, key, await readFile(path), metadata);
    if (size <= this.partSize) {
      const response = await this.#call({ operation: 'PUT', method: 'PUT', bucket, key, headers: { ...metaHeaders(metadata), ...this.#customerKey }, body: { open: () => createReadStream(path, { highWaterMark: STREAM_CHUNK_BYTES }), length: size } });
      await response.body.dump();
      return (headerValue(response.headers, 'etag') ?? '').replace(/"/g, '');
    }
    return this.#multipart(bucket, key, path, size, metadata);
  }

  async #multipart(bucket: string, key: string, path: string, size: number, metadata: Record<string, string>): Promise<string> {
    const started = await this.#call({ operation: 'start multipart upload', method: 'POST', bucket, key, query: { uploads: '' }, headers: { ...metaHeaders(metadata), ...this.#customerKey } });
    const uploadId = element(await started.body.text(), 'UploadId');
    if (uploadId === undefined) throw new S3Error(`S3 multipart upload of ${this.where(bucket, key)}: the server sent no UploadId`, { alias: this.alias, bucket, key, url: this.#base.origin, hint: 'the server does not look like S3' });
    const count = Math.ceil(size / this.partSize);
    const etags: string[] = new Array<string>(count).fill('');
    let next = 0;
    const worker = async (): Promise<void> => {
      // Parts go from memory, one reused buffer per worker (partSize x partConcurrency in all): streamed
      // from the file, each part's PUT stalled ~100 ms against Ceph's gateway.
      const buffer = Buffer.allocUnsafe(Math.min(this.partSize, size));
      while (next < count) {
        const index = next++;
        const start = index * this.partSize;
        const end = Math.min(start + this.partSize, size);
        const data = await readRange(path, start, buffer.subarray(0, end - start));
        const response = await this.#call({
          operation: `PUT part ${index + 1}/${count}`,
          method: 'PUT',
          bucket,
          key,
          query: { partNumber: String(index + 1), uploadId },
          headers: this.#customerKey,
          body: { open: () => data, length: data.length },
        });
        await response.body.dump();
        etags[index] = headerValue(response.headers, 'etag') ?? '';
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#partConcurrency, count) }, worker));
      const xml = `<CompleteMultipartUpload>${etags.map((etag, index) => `<Part><PartNumber>${index + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const data = Buffer.from(xml);
      const done = await this.#call({ operation: 'complete multipart upload', method: 'POST', bucket, key, query: { uploadId }, body: { open: () => data, length: data.length, sha256: sha256Hex(data) } });
      const answer = await done.body.text();
      // S3 may answer 200 with an <Error> body when completing fails late.
      const failed = parseError(answer);
      if (failed.code !== undefined) throw new S3Error(`S3 multipart upload of ${this.where(bucket, key)} failed: ${failed.code}${failed.message === undefined ? '' : `: ${failed.message}`}`, { alias: this.alias, bucket, key, status: 200, code: failed.code, url: this.#base.origin, hint: hintFor(failed.code, 200, this.alias) });
      // Ceph's gateway answers with an empty <ETag>: the AWS-style one is the MD5 of the parts' MD5s.
      const etag = (element(answer, 'ETag') ?? '').replace(/"/g, '');
      return etag !== '' ? etag : multipartEtag(etags);
    } catch (error) {
      await this.#call({ operation: 'abort multipart upload', method: 'DELETE', bucket, key, query: { uploadId } }).then((response) => response.body.dump()).catch(() => undefined);
      throw error;
    }
  }

  async delete(bucket: string, key: string): Promise<void> {
    const response = await this.#call({ operation: 'DELETE', method: 'DELETE', bucket, key, accept: [404] });
    await response.body.dump();
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

/** Fills `into` with the file's bytes from `start`. */
async function readRange(path: string, start: number, into: Buffer): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await handle.read(into, done, into.length - done, start + done);
      if (bytesRead === 0) throw new Error(`${path} ended at ${start + done} bytes while being uploaded`);
      done += bytesRead;
    }
    return into;
  } finally {
    await handle.close();
  }
}

function multipartEtag(partEtags: readonly string[]): string {
  const digests = partEtags.map((etag) => Buffer.from(etag.replace(/"/g, ''), 'hex'));
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${partEtags.length}`;
}

function customerKeyHeaders(key: Secret): Record<string, string> {
  const bytes = Buffer.from(key.reveal(), 'base64');
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': key.reveal(),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(bytes).digest('base64'),
  };
}

function headerValue(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function headOf(headers: Dispatcher.ResponseData['headers']): ObjectHead {
  const metadata: Record<string, string> = {};
  for (const name of Object.keys(headers)) if (name.startsWith('x-amz-meta-')) metadata[name.slice('x-amz-meta-'.length)] = headerValue(headers, name) ?? '';
  return {
    size: Number(headerValue(headers, 'content-length') ?? '0'),
    etag: (headerValue(headers, 'etag') ?? '').replace(/"/g, ''),
    lastModified: new Date(headerValue(headers, 'last-modified') ?? 0),
    metadata,
  };
}

function metaHeaders(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([name, value]) => [`x-amz-meta-${name.toLowerCase()}`, value]));
}
