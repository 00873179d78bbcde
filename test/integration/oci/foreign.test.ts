import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredentials, pullAndUnpack, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { putManifest, uploadBlob } from '../../support/distribution.ts';
import { buildTar, compress, sha256 } from '../../support/image.ts';
import { freePort, startRegistry, type TestRegistry } from '../../support/registry.ts';

const PASSWORD = 'foreign-layer-secret';
const authorization = `Basic ${Buffer.from(`carol:${PASSWORD}`).toString('base64')}`;
let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-foreign-'));
  registry = await startRegistry({ users: { carol: PASSWORD }, allowForeignUrls: true });
});

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('foreign layers', () => {
  it('fetches a layer the registry does not hold from its URL, without the credentials, and verifies it', async () => {
    const tar = await buildTar([{ path: 'from-elsewhere', content: 'foreign bytes' }]);
    const layer = compress(tar, 'gzip');
    const seen: IncomingHttpHeaders[] = [];
    const port = await freePort();
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-length': String(layer.length) }).end(layer);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }));
      const configDigest = await uploadBlob({ url: registry.url, authorization }, 'test/foreign', config);
      const manifest = {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: sha256(layer), size: layer.length, urls: [`http://localhost:${port}/layers/1`] }],
      };
      expect(await putManifest({ url: registry.url, authorization }, 'test/foreign', 'v1', manifest)).toBe(201);

      const target = join(work, 'rootfs');
      const pulled = await pullAndUnpack(parseReference(`${registry.host}/test/foreign:v1`), target, { store: new ContentStore(join(work, 'store')), tlsVerify: false, credentials: parseCredentials(`carol:${PASSWORD}`) });
      expect(pulled.blobsDownloaded).toBe(2);
      expect(readFileSync(join(target, 'from-elsewhere'), 'utf8')).toBe('foreign bytes');
      expect(seen).toHaveLength(1);
      expect(seen[0]?.authorization).toBeUndefined();
      expect(seen[0]?.['accept-encoding']).toBe('identity');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
