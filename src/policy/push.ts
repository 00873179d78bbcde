// Pushes for `ocinit sign`: blobs (POST, then one PUT with the digest) and manifests, to the
// registry itself through its transport (with a pull,push token).
import { OcinitError } from '../log/errors.ts';
import { digestOf } from '../digest/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { Source } from '../oci/sources.ts';
import type { RegistryResponse } from '../oci/transport.ts';

export async function pushBlob(source: Source, bytes: Buffer, scope: string, what: string): Promise<Descriptor> {
  const digest = digestOf(bytes);
  const started = await source.transport.send('POST', `/v2/${source.repository}/blobs/uploads/`, { scope, what });
  if (started.status !== 202) await source.transport.fail(started, what);
  await started.body.dump();
  const location = started.headers.location;
  if (location === undefined) throw new OcinitError(`registry ${source.transport.host} started an upload without a Location while ${what}`);
  const url = new URL(location, 'http://relative.invalid');
  url.searchParams.set('digest', digest);
  const target = url.host === 'relative.invalid' ? `${url.pathname}${url.search}` : url.toString();
  const put = await source.transport.send('PUT', target, { scope, what, body: bytes, headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } });
  if (put.status !== 201) await source.transport.fail(put, what);
  await put.body.dump();
  return { mediaType: 'application/octet-stream', digest, size: bytes.length };
}

/** PUTs a manifest (or index) at `reference` (a tag or its digest); returns the response headers. */
export async function pushManifest(source: Source, reference: string, bytes: Buffer, mediaType: string, scope: string, what: string, image: string): Promise<RegistryResponse['headers']> {
  const put = await source.transport.send('PUT', `/v2/${source.repository}/manifests/${reference}`, { scope, what, body: bytes, headers: { 'content-type': mediaType } });
  if (put.status !== 201) await source.transport.fail(put, what, { image });
  await put.body.dump();
  return put.headers;
}
