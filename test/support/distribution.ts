// Pushes with the Distribution API directly, for what skopeo cannot push: artifacts, foreign
// layers, registries named by an IPv6 address.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from './image.ts';

export interface ApiTarget {
  /** `http://127.0.0.1:PORT` or `http://[::1]:PORT`. */
  url: string;
  /** A full Authorization header value, for registries with auth. */
  authorization?: string;
}

function headers(target: ApiTarget, extra: Record<string, string> = {}): Record<string, string> {
  return target.authorization === undefined ? extra : { authorization: target.authorization, ...extra };
}

/** Uploads a blob (POST then monolithic PUT); returns its digest. */
export async function uploadBlob(target: ApiTarget, name: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const started = await fetch(`${target.url}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: headers(target) });
  if (started.status !== 202) throw new Error(`blob upload to ${name} refused: ${started.status} ${await started.text()}`);
  const location = new URL(started.headers.get('location') ?? '', target.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: headers(target, { 'content-type': 'application/octet-stream' }) });
  if (put.status !== 201) throw new Error(`blob upload to ${name} failed: ${put.status} ${await put.text()}`);
  return digest;
}

/** PUTs a manifest document under `reference` (a tag or digest); returns the HTTP status. */
export async function putManifest(target: ApiTarget, name: string, reference: string, document: { mediaType: string }): Promise<number> {
  const response = await fetch(`${target.url}/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    body: JSON.stringify(document),
    headers: headers(target, { 'content-type': document.mediaType }),
  });
  await response.text();
  return response.status;
}

/** Pushes the image a layout's `tag` names (a single manifest, not an index) blob by blob. */
export async function pushLayoutViaApi(layoutDir: string, tag: string, target: ApiTarget, name: string): Promise<void> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((candidate) => candidate.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (entry === undefined) throw new Error(`no tag ${tag} in ${layoutDir}`);
  const blob = (digest: string): Promise<Buffer> => readFile(join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const manifest = JSON.parse((await blob(entry.digest)).toString('utf8')) as { mediaType: string; config: { digest: string }; layers: { digest: string }[] };
  for (const descriptor of [manifest.config, ...manifest.layers]) await uploadBlob(target, name, await blob(descriptor.digest));
  const status = await putManifest(target, name, tag, manifest);
  if (status !== 201) throw new Error(`manifest push to ${name}:${tag} failed: ${status}`);
}
