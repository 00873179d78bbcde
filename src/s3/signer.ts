// AWS Signature Version 4 for S3, on node:crypto. Written here rather than taken from `aws4`: the
// signing itself is ~60 lines of HMAC chaining and canonical strings that the AWS test vectors pin
// down exactly, while aws4 brings query-string signing, credential lookup from the environment and
// non-S3 service quirks we would carry untested in every initramfs.
import { createHash, createHmac } from 'node:crypto';
import type { Secret } from '../log/secret.ts';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SigningCredentials {
  accessKey: Secret;
  secretKey: Secret;
  region: string;
  service?: string;
}

export interface RequestToSign {
  method: string;
  /** Absolute URL; its path must already be encoded as it goes on the wire (see encodeKeyPath). */
  url: string;
  headers: Record<string, string>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD (streamed files). */
  payloadHash: string;
  date: Date;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX (uppercase). */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An S3 key as a URL path: each segment encoded, the slashes kept. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}

function canonicalQuery(search: URLSearchParams): string {
  return [...search.entries()]
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export interface SignatureParts {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  authorization: string;
}

/** The canonical request, the string to sign and the Authorization header value. */
export function signatureParts(request: RequestToSign, credentials: SigningCredentials): SignatureParts {
  const url = new URL(request.url);
  const service = credentials.service ?? 's3';
  const timestamp = amzDate(request.date);
  const day = timestamp.slice(0, 8);
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(request.headers)) headers.set(name.toLowerCase(), value.trim().replace(/\s+/g, ' '));
  if (!headers.has('host')) headers.set('host', url.host);
  const names = [...headers.keys()].sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    request.method.toUpperCase(),
    url.pathname === '' ? '/' : url.pathname,
    canonicalQuery(url.searchParams),
    names.map((name) => `${name}:${headers.get(name) ?? ''}\n`).join(''),
    signedHeaders,
    request.payloadHash,
  ].join('\n');
  const scope = `${day}/${credentials.region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', timestamp, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretKey.reveal()}`, day), credentials.region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKey.reveal()}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return { canonicalRequest, stringToSign, signature, authorization };
}

/** The headers to send: the caller's, plus host-independent x-amz-date, x-amz-content-sha256 and Authorization. */
export function signedHeaders(request: Omit<RequestToSign, 'headers'> & { headers?: Record<string, string> }, credentials: SigningCredentials): Record<string, string> {
  const headers = { ...request.headers, 'x-amz-date': amzDate(request.date), 'x-amz-content-sha256': request.payloadHash };
  const { authorization } = signatureParts({ ...request, headers }, credentials);
  return { ...headers, authorization };
}
