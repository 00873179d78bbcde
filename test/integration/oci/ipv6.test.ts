import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullAndUnpack, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { pushLayoutViaApi } from '../../support/distribution.ts';
import { buildImageLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-ipv6-'));
  registry = await startRegistry({ ipv6: true });
});

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('IPv6', () => {
  it('pulls from a registry named by an IPv6 address, and stops when asked to', async () => {
    const layout = join(work, 'layout');
    await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'v6', content: 'over ::1' }] }] });
    // skopeo 1.9 cannot parse an IPv6 registry name: push with the Distribution API instead.
    await pushLayoutViaApi(layout, 'v1', registry, 'net/v6');
    const reference = `${registry.host}/net/v6:v1`;
    expect(reference.startsWith('[::1]:')).toBe(true);
    const target = join(work, 'rootfs');
    const pulled = await pullAndUnpack(parseReference(reference), target, { store: new ContentStore(join(work, 'store')), tlsVerify: false });
    expect(pulled.reference.registry).toBe(registry.host);
    expect(readFileSync(join(target, 'v6'), 'utf8')).toBe('over ::1');

    const controller = new AbortController();
    controller.abort(new Error('job cancelled'));
    await expect(pullAndUnpack(parseReference(reference), join(work, 'cancelled'), { store: new ContentStore(join(work, 'store2')), tlsVerify: false, signal: controller.signal })).rejects.toThrow('was cancelled');
  });
});
