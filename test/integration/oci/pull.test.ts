import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage, pullAndUnpack, pullImage, unpackImage, parseReference } from '../../../src/oci/index.ts';
import { rawTar } from '../../support/tar.ts';
import { pushLayoutViaApi, putManifest, uploadBlob } from '../../support/distribution.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { describeError } from '../../../src/log/errors.ts';
import { buildImageLayout, buildTar, pushLayout, sha256, tagLayout, writeImage, writeIndex, type ImageSpec } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

const execFileAsync = promisify(execFile);
const NODE = process.execPath;
const CLI = join(import.meta.dirname, '../../../src/cli/main.ts');

let registry: TestRegistry;
let work: string;
let counter = 0;

const fresh = (name: string): string => join(work, `${name}-${counter++}`);

async function push(spec: ImageSpec, tag: string, name = 'test/image', format?: 'v2s2'): Promise<{ reference: string; layers: { digest: string }[] }> {
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, tag, spec);
  const reference = await pushLayout(layout, tag, registry, { name, ...(format === undefined ? {} : { format }) });
  return { reference, layers: built.layers };
}

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-pull-'));
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('pull and unpack from a real registry', () => {
  it('applies layers in order with whiteouts, opaque directories, links and modes; a warm store downloads nothing', async () => {
    const { reference } = await push(
      {
        layers: [
          {
            files: [
              { path: 'etc/', type: 'directory' },
              { path: 'etc/hostname', content: 'lower\n' },
              { path: 'etc/removed', content: 'gone\n' },
              { path: 'opaque/', type: 'directory' },
              { path: 'opaque/old', content: 'old\n' },
              { path: 'bin/', type: 'directory' },
              { path: 'bin/tool', content: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1000 },
              { path: 'bin/alias', type: 'link', linkTarget: 'bin/tool' },
              { path: 'lib', type: 'symlink', linkTarget: 'usr/lib' },
              { path: 'usr/lib/', type: 'directory' },
            ],
          },
          {
            compression: 'zstd',
            files: [
              { path: 'etc/.wh.removed' },
              { path: 'etc/hostname', content: 'upper\n' },
              { path: 'opaque/.wh..wh..opq' },
              { path: 'opaque/new', content: 'new\n' },
              { path: 'lib/libx.so', content: 'ELF' },
              { path: 'tmp/', type: 'directory', mode: 0o1777 },
            ],
          },
          { compression: 'none', files: [{ path: 'plain', content: 'uncompressed layer' }] },
        ],
      },
      'v1',
    );
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    expect(pulled.layers).toHaveLength(3);
    expect(pulled.blobsDownloaded).toBe(4);
    const target = fresh('rootfs');
    await unpackImage(pulled, target, { store });
    expect(readFileSync(join(target, 'etc/hostname'), 'utf8')).toBe('upper\n');
    expect(existsSync(join(target, 'etc/removed'))).toBe(false);
    expect(readdirSync(join(target, 'opaque'))).toEqual(['new']);
    expect(readlinkSync(join(target, 'lib'))).toBe('usr/lib');
    expect(readFileSync(join(target, 'usr/lib/libx.so'), 'utf8')).toBe('ELF');
    expect(readFileSync(join(target, 'plain'), 'utf8')).toBe('uncompressed layer');
    const tool = lstatSync(join(target, 'bin/tool'));
    expect([tool.mode & 0o7777, tool.uid, tool.gid]).toEqual([0o4755, 1000, 1000]);
    expect(lstatSync(join(target, 'bin/alias')).ino).toBe(tool.ino);
    expect(lstatSync(join(target, 'tmp')).mode & 0o7777).toBe(0o1777);

    const again = await pullImage(parseReference(reference), { store, tlsVerify: false });
    expect([again.blobsDownloaded, again.bytesDownloaded, again.manifestDigest]).toEqual([0, 0, pulled.manifestDigest]);
    const byDigest = await pullImage(parseReference(`${reference.split(':v1')[0]}@${pulled.manifestDigest}`), { store, tlsVerify: false });
    expect(byDigest.manifestDigest).toBe(pulled.manifestDigest);
  });

  it('selects the platform from a multi-arch index, skipping attestations', async () => {
    const layout = fresh('layout');
    const amd64 = await writeImage(layout, { architecture: 'amd64', layers: [{ files: [{ path: 'arch', content: 'amd64' }] }] });
    const arm64 = await writeImage(layout, { architecture: 'arm64', variant: 'v8', layers: [{ files: [{ path: 'arch', content: 'arm64' }] }] });
    const armv7 = await writeImage(layout, { architecture: 'arm', variant: 'v7', layers: [{ files: [{ path: 'arch', content: 'armv7' }] }] });
    const attestation = await writeImage(layout, { architecture: 'unknown', os: 'unknown', layers: [{ compression: 'none', files: [{ path: 'sbom.json', content: '{}' }] }] });
    const index = await writeIndex(layout, [
      { ...attestation.manifest, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
      { ...amd64.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm64.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { ...armv7.manifest, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ]);
    await tagLayout(layout, 'multi', index);
    const reference = await pushLayout(layout, 'multi', registry, { name: 'test/multi', all: true });
    const store = new ContentStore(fresh('store'));
    for (const [platform, expected, digest] of [
      [{ os: 'linux', architecture: 'aarch64' }, 'arm64', arm64.manifest.digest],
      [{ os: 'linux', architecture: 'arm', variant: 'v7' }, 'armv7', armv7.manifest.digest],
      [{ os: 'linux', architecture: 'amd64' }, 'amd64', amd64.manifest.digest],
    ] as const) {
      const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false, platform });
      expect(pulled.manifestDigest).toBe(digest);
      const target = fresh('rootfs');
      await unpackImage(pulled, target, { store });
      expect(readFileSync(join(target, 'arch'), 'utf8')).toBe(expected);
    }
    await expect(pullImage(parseReference(reference), { store, tlsVerify: false, platform: { os: 'linux', architecture: 's390x' } })).rejects.toThrow(
      /no variant for linux\/s390x[\s\S]*/,
    );
    const error = await pullImage(parseReference(reference), { store, tlsVerify: false, platform: { os: 'linux', architecture: 'riscv64' } }).catch((caught: unknown) => caught);
    expect((error as { hint?: string }).hint).toBe('available: linux/amd64, linux/arm64/v8, linux/arm/v7; choose one with --platform');
  });

  it('pulls Docker schema 2 manifests and rootfs.diff.tar.gzip layers', async () => {
    const { reference } = await push({ layers: [{ files: [{ path: 'docker', content: 'v2s2' }] }, { files: [{ path: 'second', content: '2' }] }] }, 'docker', 'test/docker', 'v2s2');
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    expect(pulled.manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(pulled.layers.map((layer) => layer.descriptor.mediaType)).toEqual(Array(2).fill('application/vnd.docker.image.rootfs.diff.tar.gzip'));
    const target = fresh('rootfs');
    await unpackImage(pulled, target, { store });
    expect(readFileSync(join(target, 'docker'), 'utf8')).toBe('v2s2');
  });

  it('sniffs a plain tar pushed under the Docker gzip media type', async () => {
    const tar = await buildTar([{ path: 'sniffed', content: 'plain tar' }]);
    const { reference } = await push({ layers: [{ tar, compression: 'none', mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }] }, 'sniff', 'test/sniff');
    const store = new ContentStore(fresh('store'));
    const target = fresh('rootfs');
    await unpackImage(await pullImage(parseReference(reference), { store, tlsVerify: false }), target, { store });
    expect(readFileSync(join(target, 'sniffed'), 'utf8')).toBe('plain tar');
  });

  it('fails on a blob corrupted in the registry, leaving nothing unpacked and nothing stored', async () => {
    const { reference, layers } = await push({ layers: [{ files: [{ path: 'a', content: 'x'.repeat(5000) }] }] }, 'corrupt', 'test/corrupt');
    const digest = layers[0]?.digest ?? '';
    const path = registry.blobDataPath(digest);
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const storeDir = fresh('store');
    const store = new ContentStore(storeDir);
    const error = await pullImage(parseReference(reference), { store, tlsVerify: false }).catch((caught: unknown) => caught);
    expect(String((error as Error).message)).toContain(`blob ${digest} failed verification: expected ${digest}, got sha256:`);
    expect((error as { blob?: string }).blob).toBe(digest);
    expect(await store.has(digest, bytes.length)).toBe(false);
    expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
  });

  it('checks every layer against the diff_ids and leaves the target as it was', async () => {
    const { reference } = await push({ layers: [{ files: [{ path: 'good', content: 'ok' }] }, { files: [{ path: 'bad', content: 'no' }], diffId: sha256(Buffer.from('something else')) }] }, 'diffid', 'test/diffid');
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    const target = fresh('rootfs');
    mkdirSync(target);
    await expect(unpackImage(pulled, target, { store })).rejects.toThrow(`expected diff_id ${sha256(Buffer.from('something else'))}`);
    expect(readdirSync(target)).toEqual([]);
    expect(readdirSync(join(target, '..')).filter((name) => name.includes('ocinit-'))).toEqual([]);
  });

  it('refuses to unpack into a non-empty directory', async () => {
    const { reference } = await push({ layers: [{ files: [{ path: 'f', content: '1' }] }] }, 'nonempty', 'test/nonempty');
    const store = new ContentStore(fresh('store'));
    const target = fresh('rootfs');
    mkdirSync(target);
    writeFileSync(join(target, 'mine'), 'keep');
    await expect(unpackImage(await pullImage(parseReference(reference), { store, tlsVerify: false }), target, { store })).rejects.toThrow('not an empty directory');
    expect(readdirSync(target)).toEqual(['mine']);
  });

  it('re-verifies stored layers and discards one that rotted on disk', async () => {
    const { reference, layers } = await push({ layers: [{ files: [{ path: 'f', content: 'y'.repeat(3000) }] }] }, 'rot', 'test/rot');
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    const digest = layers[0]?.digest ?? '';
    const bytes = readFileSync(store.blobPath(digest));
    bytes[20] = (bytes[20] ?? 0) ^ 0x01;
    writeFileSync(store.blobPath(digest), bytes);
    const target = fresh('rootfs');
    await expect(unpackImage(pulled, target, { store })).rejects.toThrow(`stored layer ${digest} failed verification`);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(store.blobPath(digest))).toBe(false);
    const repaired = await pullImage(parseReference(reference), { store, tlsVerify: false });
    expect(repaired.blobsDownloaded).toBe(1);
    await unpackImage(repaired, target, { store });
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('y'.repeat(3000));
  });

  it('discards a stored uncompressed layer whose flipped bit shows only as a diff_id mismatch', async () => {
    // Pushed through the API as it is: skopeo would compress the layer on the way.
    const layout = fresh('layout');
    await buildImageLayout(layout, 'rot-plain', { layers: [{ compression: 'none', files: [{ path: 'f', content: 'z'.repeat(3000) }] }] });
    await pushLayoutViaApi(layout, 'rot-plain', registry, 'test/rot-plain');
    const reference = `${registry.host}/test/rot-plain:rot-plain`;
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    const digest = pulled.layers[0]?.descriptor.digest ?? '';
    const bytes = readFileSync(store.blobPath(digest));
    bytes[1000] = (bytes[1000] ?? 0) ^ 0x01; // inside the file's data: the tar still parses
    writeFileSync(store.blobPath(digest), bytes);
    await expect(unpackImage(pulled, fresh('rootfs'), { store })).rejects.toThrow(`stored layer ${digest} failed verification`);
    expect(existsSync(store.blobPath(digest))).toBe(false);
  });

  it('says the cache is full instead of retrying when the store runs out of space', async () => {
    const { reference } = await push({ layers: [{ compression: 'none', files: [{ path: 'big', content: randomBytes(3_000_000) }] }] }, 'full', 'test/full');
    const storeDir = fresh('tiny-store');
    mkdirSync(storeDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', storeDir]);
    try {
      const error = await pullImage(parseReference(reference), { store: new ContentStore(storeDir), tlsVerify: false }).catch((caught: unknown) => caught);
      expect(describeError(error)).toMatch(/cannot write blob sha256:[0-9a-f]{64} in the content store .*ENOSPC[\s\S]*hint: the cache device is full/);
      expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [storeDir]);
    }
  });

  it('refuses artifacts that are not container images', async () => {
    const config = Buffer.from('{"name":"chart"}');
    const configDigest = await uploadBlob(registry, 'test/artifact', config);
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: configDigest, size: config.length }, layers: [] };
    expect(await putManifest(registry, 'test/artifact', 'chart', manifest)).toBe(201);
    const store = new ContentStore(fresh('store'));
    await expect(pullImage(parseReference(`${registry.host}/test/artifact:chart`), { store, tlsVerify: false })).rejects.toThrow('is an artifact (application/vnd.cncf.helm.config.v1+json), not a container image');
  });

  it('fails with the registry error for an unknown tag and refuses plain HTTP unless told', async () => {
    const store = new ContentStore(fresh('store'));
    await expect(pullImage(parseReference(`${registry.host}/test/image:nope`), { store, tlsVerify: false })).rejects.toThrow(/HTTP 404\).*MANIFEST_UNKNOWN/);
    await expect(pullImage(parseReference(`${registry.host}/test/image:v1`), { store, attempts: 1 })).rejects.toThrow(`cannot reach registry ${registry.host} while fetching manifest`);
  });
});

describe('pullAndUnpack: downloading and unpacking overlapped', () => {
  const spec: ImageSpec = {
    layers: [
      { files: [{ path: 'base/', type: 'directory' }, { path: 'base/big', content: Buffer.alloc(2_000_000, 7) }, { path: 'base/gone', content: 'x' }] },
      { compression: 'zstd', files: [{ path: 'base/.wh.gone' }, { path: 'upper', content: 'second' }] },
      { files: [{ path: 'third', content: 'third' }] },
    ],
  };

  it('unpacks the same tree as pull then unpack, and a warm store downloads nothing', async () => {
    const { reference } = await push(spec, 'overlap', 'test/overlap');
    const store = new ContentStore(fresh('store'));
    const target = fresh('rootfs');
    const pulled = await pullAndUnpack(parseReference(reference), target, { store, tlsVerify: false });
    expect(pulled.blobsDownloaded).toBe(4);
    expect(readdirSync(target).sort()).toEqual(['base', 'third', 'upper']);
    expect(readdirSync(join(target, 'base'))).toEqual(['big']);
    expect(readFileSync(join(target, 'base/big')).equals(Buffer.alloc(2_000_000, 7))).toBe(true);
    for (const layer of pulled.layers) expect(await store.has(layer.descriptor.digest, layer.descriptor.size)).toBe(true);
    const again = await pullAndUnpack(parseReference(reference), fresh('rootfs'), { store, tlsVerify: false });
    expect([again.blobsDownloaded, again.bytesDownloaded]).toEqual([0, 0]);
  });

  it('fails on a corrupted first layer with no target, no staging and nothing stored', async () => {
    const { reference, layers } = await push(spec, 'overlap-corrupt', 'test/overlap-corrupt');
    const digest = layers[0]?.digest ?? '';
    const path = registry.blobDataPath(digest);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const store = new ContentStore(fresh('store'));
    const target = fresh('rootfs');
    const error = await pullAndUnpack(parseReference(reference), target, { store, tlsVerify: false }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as { blob?: string }).blob).toBe(digest);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(target, '..')).filter((name) => name.includes('ocinit-'))).toEqual([]);
    expect(await store.has(digest, bytes.length)).toBe(false);
  });

  it('stops a hostile first layer while it downloads, touching nothing outside', async () => {
    const outside = fresh('outside');
    const hostile = rawTar([{ name: 'escape', type: '2', linkname: outside }, { name: 'escape/owned', data: 'x' }, { name: '../owned', data: 'x' }]);
    const { reference } = await push({ layers: [{ tar: hostile }, { files: [{ path: 'f', content: '1' }] }] }, 'hostile', 'test/hostile');
    const target = fresh('rootfs');
    await expect(pullAndUnpack(parseReference(reference), target, { store: new ContentStore(fresh('store')), tlsVerify: false })).rejects.toThrow("unsafe layer entry '../owned'");
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(target)).toBe(false);
  });

  it('reports why the first layer stopped unpacking, not that its download was stopped with it', async () => {
    // The bad entry comes first and 32 MB follow: the download is still going when unpacking stops.
    const hostile = rawTar([{ name: '../owned', data: 'x' }, { name: 'padding', data: randomBytes(32_000_000) }]);
    const { reference } = await push({ layers: [{ tar: hostile, compression: 'none' }] }, 'hostile-big', 'test/hostile-big');
    const error = await pullAndUnpack(parseReference(reference), fresh('rootfs'), { store: new ContentStore(fresh('store')), tlsVerify: false }).catch((caught: unknown) => caught);
    expect(describeError(error)).toContain("unsafe layer entry '../owned'");
  });

  it('closes the file it was writing when a layer ends inside it and fails its diff_id', async () => {
    const truncated = rawTar([{ name: 'partial', data: 'x'.repeat(100_000) }], { end: false }).subarray(0, 50_000);
    const { reference } = await push({ layers: [{ tar: truncated, diffId: `sha256:${'0'.repeat(64)}` }] }, 'cut-short', 'test/cut-short');
    const target = fresh('rootfs');
    const staging = join(target, '..', `.${basename(target)}.ocinit-`);
    await expect(pullAndUnpack(parseReference(reference), target, { store: new ContentStore(fresh('store')), tlsVerify: false })).rejects.toThrow('diff_id');
    const open = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(open.filter((path) => path.startsWith(staging))).toEqual([]);
  });

  it('blames a hostile stored layer, not the disk, when unpacking stops early', async () => {
    // The bad entry comes first and megabytes follow it, so the read stops long before the blob's end.
    const hostile = rawTar([{ name: '../owned', data: 'x' }, { name: 'padding', data: randomBytes(4_000_000) }]);
    const { reference, layers } = await push({ layers: [{ tar: hostile, compression: 'gzip' }] }, 'hostile-stored', 'test/hostile-stored');
    const store = new ContentStore(fresh('store'));
    const pulled = await pullImage(parseReference(reference), { store, tlsVerify: false });
    const digest = layers[0]?.digest ?? '';
    const target = fresh('rootfs');
    const error = await unpackImage(pulled, target, { store }).catch((caught: unknown) => caught);
    expect(describeError(error)).toContain("unsafe layer entry '../owned'");
    expect(describeError(error)).not.toContain('discarded');
    expect(existsSync(target)).toBe(false);
    expect(existsSync(store.blobPath(digest))).toBe(true);
  });
});

describe('ocinit pull and inspect', () => {
  it('pulls and unpacks from the command line, and inspect prints JSON', async () => {
    const { reference } = await push({ layers: [{ files: [{ path: 'hello', content: 'from the cli' }] }], config: { Cmd: ['/hello'], Env: ['A=1'] } }, 'cli', 'test/cli');
    const storeDir = fresh('store');
    const target = fresh('rootfs');
    const { stdout } = await execFileAsync(NODE, [CLI, 'pull', '--tls-verify=false', '--store', storeDir, reference, target]);
    expect(stdout).toMatch(/unpacked into .*: 2 blobs/);
    expect(readFileSync(join(target, 'hello'), 'utf8')).toBe('from the cli');
    const inspected = await execFileAsync(NODE, [CLI, 'inspect', '--tls-verify=false', '--store', storeDir, reference]);
    const report = JSON.parse(inspected.stdout) as { reference: string; digest: string; platform: string; layers: unknown[]; config: { config: { Cmd: string[] } } };
    expect(report.reference).toBe(`${reference}`);
    expect(report.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(report.platform).toBe('linux/amd64');
    expect(report.layers).toHaveLength(1);
    expect(report.config.config.Cmd).toEqual(['/hello']);
    const failed = await execFileAsync(NODE, [CLI, 'pull', '--tls-verify=false', '--store', storeDir, `${registry.host}/test/cli:missing`, fresh('rootfs')]).catch((caught: unknown) => caught as { code: number; stderr: string; stdout: string });
    expect((failed as { code: number }).code).toBe(1);
    const direct = await inspectImage(parseReference(`${registry.host}/test/cli:cli`), { store: new ContentStore(storeDir), tlsVerify: false });
    expect(direct.layers).toHaveLength(1);
  });
});
