// Builds OCI image layouts from in-memory file lists (tar-stream for the layers) and pushes them to a
// registry with skopeo. No test framework imports: plain scripts (demo image, benchmarks) use it too.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { pack as tarPack, type Header } from 'tar-stream';

const execFileAsync = promisify(execFile);

export interface FileSpec {
  path: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  /** Symlink or hardlink target. */
  linkTarget?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devMajor?: number;
  devMinor?: number;
  pax?: Record<string, string>;
}

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerSpec {
  files?: FileSpec[];
  /** Use these tar bytes as they are (hostile archives, see tar.ts). */
  tar?: Buffer;
  compression?: Compression;
  /** Override the media type (e.g. Docker's rootfs.diff.tar.gzip). */
  mediaType?: string;
  /** Put this diff_id in the config instead of the real one (verification tests). */
  diffId?: string;
}

export interface ImageSpec {
  layers: LayerSpec[];
  os?: string;
  architecture?: string;
  variant?: string;
  config?: Record<string, unknown>;
}

export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface BuiltImage {
  manifest: BlobDescriptor;
  config: BlobDescriptor;
  layers: (BlobDescriptor & { diffId: string })[];
}

const LAYER_MEDIA_TYPES: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A tar archive of the given files, in order, with deterministic defaults. */
export async function buildTar(files: FileSpec[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const file of files) {
    const type = file.type ?? 'file';
    const headers: Partial<Header> & { name: string } = {
      name: file.path,
      type,
      mode: file.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: file.uid ?? 0,
      gid: file.gid ?? 0,
      mtime: file.mtime ?? new Date('2024-01-02T03:04:05Z'),
    };
    if (file.linkTarget !== undefined) headers.linkname = file.linkTarget;
    if (file.devMajor !== undefined) headers.devmajor = file.devMajor;
    if (file.devMinor !== undefined) headers.devminor = file.devMinor;
    if (file.pax !== undefined) headers.pax = file.pax;
    const content = type === 'file' ? (typeof file.content === 'string' ? Buffer.from(file.content) : (file.content ?? Buffer.alloc(0))) : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      pack.entry(headers, content, (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function compress(tar: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(tar);
  if (compression === 'zstd') return zstdCompressSync(tar);
  return tar;
}

async function writeBlob(layoutDir: string, bytes: Buffer, mediaType: string): Promise<BlobDescriptor> {
  const digest = sha256(bytes);
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  return { mediaType, digest, size: bytes.length };
}

async function ensureLayout(layoutDir: string): Promise<void> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

/** Writes an image's layers, config and manifest as blobs of an OCI layout (not yet tagged). */
export async function writeImage(layoutDir: string, spec: ImageSpec): Promise<BuiltImage> {
  await ensureLayout(layoutDir);
  const layers: (BlobDescriptor & { diffId: string })[] = [];
  for (const layer of spec.layers) {
    const tar = layer.tar ?? (await buildTar(layer.files ?? []));
    const compression = layer.compression ?? 'gzip';
    const descriptor = await writeBlob(layoutDir, compress(tar, compression), layer.mediaType ?? LAYER_MEDIA_TYPES[compression]);
    layers.push({ ...descriptor, diffId: layer.diffId ?? sha256(tar) });
  }
  const configDocument = {
    created: '2024-01-02T03:04:05Z',
    architecture: spec.architecture ?? 'amd64',
    os: spec.os ?? 'linux',
    ...(spec.variant === undefined ? {} : { variant: spec.variant }),
    config: spec.config ?? { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'ocinit test' })),
  };
  const config = await writeBlob(layoutDir, Buffer.from(JSON.stringify(configDocument)), 'application/vnd.oci.image.config.v1+json');
  const manifestDocument = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  };
  const manifest = await writeBlob(layoutDir, Buffer.from(JSON.stringify(manifestDocument)), manifestDocument.mediaType);
  return { manifest, config, layers };
}

/** Writes an OCI image index over manifests (each with its platform) as a blob of the layout. */
export async function writeIndex(layoutDir: string, manifests: BlobDescriptor[]): Promise<BlobDescriptor> {
  await ensureLayout(layoutDir);
  const document = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests };
  return writeBlob(layoutDir, Buffer.from(JSON.stringify(document)), document.mediaType);
}

/** Points `tag` of the layout's index.json at a manifest or index. */
export async function tagLayout(layoutDir: string, tag: string, descriptor: BlobDescriptor): Promise<void> {
  await ensureLayout(layoutDir);
  const indexPath = join(layoutDir, 'index.json');
  let index: { schemaVersion: number; manifests: BlobDescriptor[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as typeof index;
  } catch {
    // a new layout
  }
  index.manifests = index.manifests.filter((entry) => entry.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  const { mediaType, digest, size } = descriptor;
  index.manifests.push({ mediaType, digest, size, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(indexPath, JSON.stringify(index));
}

/** writeImage + tagLayout. */
export async function buildImageLayout(layoutDir: string, tag: string, spec: ImageSpec): Promise<BuiltImage> {
  const image = await writeImage(layoutDir, spec);
  await tagLayout(layoutDir, tag, image.manifest);
  return image;
}

export interface PushOptions {
  /** Repository name in the registry (default `test/image`). */
  name?: string;
  /** `v2s2` converts to Docker schema 2 on the way (gzip/plain layers only). */
  format?: 'oci' | 'v2s2';
  /** Push every image of an index (multi-arch). */
  all?: boolean;
  /** USER:PASSWORD for a registry with auth. */
  creds?: string;
}

/** `skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://HOST/NAME:TAG`; returns the pushed reference. */
export async function pushLayout(layoutDir: string, tag: string, registry: { host: string }, options: PushOptions = {}): Promise<string> {
  const reference = `${registry.host}/${options.name ?? 'test/image'}:${tag}`;
  const args = ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layoutDir}:${tag}`, `docker://${reference}`];
  if (options.creds !== undefined) args.splice(1, 0, '--dest-creds', options.creds);
  if (options.format !== undefined) args.splice(1, 0, '--format', options.format);
  if (options.all === true) args.splice(1, 0, '--all');
  await execFileAsync('skopeo', args, { maxBuffer: 16 * 1024 * 1024 });
  return reference;
}
