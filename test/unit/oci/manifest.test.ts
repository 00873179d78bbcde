import { describe, expect, it } from 'vitest';
import { isContainerImage, parseImageConfig, parseManifestDocument } from '../../../src/oci/manifest.ts';
import { DOCKER_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED, OCI_INDEX, OCI_MANIFEST } from '../../../src/oci/media-types.ts';

const digest = (digit: string): string => `sha256:${digit.repeat(64)}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const manifest = {
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('1'), size: 10 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('2'), size: 20 }],
};

describe('parseManifestDocument', () => {
  it('reads an OCI manifest and a Docker list', () => {
    const parsed = parseManifestDocument(json(manifest), OCI_MANIFEST, {});
    expect(parsed.kind).toBe('manifest');
    if (parsed.kind === 'manifest') {
      expect(parsed.layers[0]?.digest).toBe(digest('2'));
      expect(isContainerImage(parsed)).toBe(true);
    }
    const list = parseManifestDocument(
      json({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: digest('3'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }] }),
      `${DOCKER_LIST}; charset=utf-8`,
      {},
    );
    expect(list.kind).toBe('index');
  });

  it('infers the type from the Content-Type when the document does not say', () => {
    const { mediaType: _ignored, ...bare } = manifest;
    expect(parseManifestDocument(json(bare), OCI_MANIFEST, {}).kind).toBe('manifest');
    expect(parseManifestDocument(json({ schemaVersion: 2, manifests: [] }), OCI_INDEX, {}).kind).toBe('index');
  });

  it.each([
    ['schema 1 by Content-Type', json({ schemaVersion: 1 }), DOCKER_SCHEMA1_SIGNED, 'schema 1'],
    ['schema 1 by content', json({ schemaVersion: 1, fsLayers: [] }), 'application/json', 'schema 1'],
    ['both index and manifest fields', json({ ...manifest, manifests: [] }), OCI_MANIFEST, 'both index'],
    ['mediaType contradicting Content-Type', json(manifest), OCI_INDEX, 'contradicts'],
    ['not JSON', Buffer.from('{'), OCI_MANIFEST, 'not JSON'],
    ['an array', json([]), OCI_MANIFEST, 'not a JSON object'],
    ['bad digest', json({ ...manifest, layers: [{ mediaType: 'x', digest: 'sha256:../../etc', size: 1 }] }), OCI_MANIFEST, 'invalid'],
    ['negative size', json({ ...manifest, layers: [{ mediaType: 'x', digest: digest('4'), size: -1 }] }), OCI_MANIFEST, 'invalid size'],
    ['unknown media type', json({ ...manifest, mediaType: 'application/x-foo' }), 'application/json', 'unsupported media type'],
    ['schemaVersion 3', json({ ...manifest, schemaVersion: 3 }), OCI_MANIFEST, 'schemaVersion'],
  ])('refuses %s', (_name, bytes, contentType, message) => {
    expect(() => parseManifestDocument(bytes, contentType, {})).toThrow(message);
  });

  it('recognises artifacts that are not container images', () => {
    const artifact = parseManifestDocument(json({ ...manifest, config: { ...manifest.config, mediaType: 'application/vnd.cncf.helm.config.v1+json' } }), OCI_MANIFEST, {});
    expect(artifact.kind === 'manifest' && isContainerImage(artifact)).toBe(false);
    const typed = parseManifestDocument(json({ ...manifest, artifactType: 'application/spdx+json' }), OCI_MANIFEST, {});
    expect(typed.kind === 'manifest' && isContainerImage(typed)).toBe(false);
  });
});

describe('parseImageConfig', () => {
  const config = { architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [digest('5')] } };
  it('accepts a config whose diff_ids match the layers', () => {
    expect(parseImageConfig(json(config), 1, {}).config?.Cmd).toEqual(['/bin/sh']);
  });
  it('refuses a layer count mismatch, a bad diff_id and a missing rootfs', () => {
    expect(() => parseImageConfig(json(config), 2, {})).toThrow('1 diff_ids for 2 layers');
    expect(() => parseImageConfig(json({ ...config, rootfs: { type: 'layers', diff_ids: ['sha256:xyz'] } }), 1, {})).toThrow('invalid diff_id');
    expect(() => parseImageConfig(json({ os: 'linux' }), 0, {})).toThrow('rootfs');
  });
});
