import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../../../src/log/errors.ts';
import { pullAndUnpack, pullImage, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { startConnectProxy } from '../../support/connect-proxy.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { proxyForEveryScheme } from '../../../src/net/proxy-config.ts';

let registry: TestRegistry;
let work: string;
let reference: string;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-tls-'));
  registry = await startRegistry({ tls: true });
  const layout = fresh('layout');
  await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'over-tls', content: 'verified' }] }] });
  reference = await pushLayout(layout, 'v1', registry, { name: 'secure/app' });
});

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('TLS', () => {
  it('refuses a certificate it cannot verify, with a hint', async () => {
    const error = await pullImage(parseReference(reference), { store: new ContentStore(fresh('store')), attempts: 1 }).catch((caught: unknown) => caught);
    expect(describeError(error)).toMatch(new RegExp(`cannot reach registry ${registry.host} while fetching manifest v1[\\s\\S]*hint: the certificate was not trusted`));
  });

  it('trusts a CA bundle given with caFile', async () => {
    const target = fresh('rootfs');
    await pullAndUnpack(parseReference(reference), target, { store: new ContentStore(fresh('store')), caFile: registry.caFile });
    expect(readFileSync(join(target, 'over-tls'), 'utf8')).toBe('verified');
  });

  it('skips verification with tlsVerify false', async () => {
    const pulled = await pullImage(parseReference(reference), { store: new ContentStore(fresh('store')), tlsVerify: false });
    expect(pulled.layers).toHaveLength(1);
  });

  it('goes through an HTTP proxy with CONNECT', async () => {
    const proxy = await startConnectProxy();
    try {
      const pulled = await pullImage(parseReference(reference), { store: new ContentStore(fresh('store')), caFile: registry.caFile, proxy: proxyForEveryScheme(proxy.url) });
      expect(pulled.layers).toHaveLength(1);
      expect(proxy.targets.length).toBeGreaterThan(0);
      expect(new Set(proxy.targets)).toEqual(new Set([registry.host]));
    } finally {
      await proxy.stop();
    }
  });
});
