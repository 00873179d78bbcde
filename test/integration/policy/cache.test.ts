// The boot's pull path (ImageCache) with a policy: an image that comes from the cache instead of a
// pull (--pull=missing, --pull=never) is judged like a pulled one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageOnCache, type Storage } from '../../../src/cache/index.ts';
import { ImageCache } from '../../../src/cache/images.ts';
import { cacheLayout, prepareLayout } from '../../../src/cache/layout.ts';
import { createDefaultPlan } from '../../../src/cmdline/parameters.ts';
import { describeError } from '../../../src/log/errors.ts';
import { Logger } from '../../../src/log/logger.ts';
import { loadPolicy } from '../../../src/policy/load.ts';
import { PolicyVerifier } from '../../../src/policy/verifier.ts';
import { cosignSign, makeKey, type TestKey } from '../../support/cosign.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

let registry: TestRegistry;
let work: string;
let key: TestKey;
let verifier: PolicyVerifier;
const PULL = { tlsVerify: false, attempts: 1, retryDelayMs: 10, timeoutMs: 2000 };
const quiet = new Logger({ sink: () => {}, color: false });

async function storage(name: string, settings: Partial<Storage['settings']> = {}): Promise<Storage> {
  const layout = cacheLayout(join(work, name));
  mkdirSync(layout.root, { recursive: true });
  await prepareLayout(layout, quiet, { verify: false });
  return storageOnCache(layout, undefined, { ...createDefaultPlan().cache, ...settings }, async () => {});
}

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-policy-cache-'));
  key = makeKey(work, 'lab');
  writeFileSync(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: 'lab.pub' }] }));
  verifier = new PolicyVerifier(loadPolicy(join(work, 'policy.json')));
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the boot pull path with a policy', () => {
  it('refuses an unsigned image the cache already holds, and accepts it once it is signed', async () => {
    const layout = join(work, 'layout');
    const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content: 'cached' }] }] });
    const reference = await pushLayout(layout, 'v1', registry, { name: 'cached/app' });
    const cache = await storage('cache');
    // An earlier boot without a policy left the image in the cache.
    expect((await new ImageCache(cache, quiet, () => undefined).get(reference, 'always', PULL)).image.verdict).toBeUndefined();
    const guarded = new ImageCache(cache, quiet, () => verifier);
    for (const pull of ['missing', 'never'] as const) {
      const refused = await guarded.get(reference, pull, PULL).then(() => undefined, (error: unknown) => describeError(error));
      expect(refused).toMatch(/refused: no signature at .*cached\/app:sha256-/);
    }
    await cosignSign(registry, 'cached/app', built.manifest.digest, reference, key, work);
    const accepted = await guarded.get(reference, 'never', PULL);
    expect(accepted.image.source).toBe('cache');
    expect(accepted.image.verdict).toEqual({ signed: true, text: `signed: ${built.manifest.digest} verified with ${key.publicFile} (default)` });
  });

  it('runs a signed image through a registry outage with the signature stored when it was pulled; one never verified is refused', async () => {
    const upstream = await startRegistry();
    let running = true;
    try {
      const push = async (name: string) => {
        const layout = join(work, `layout-${name}`);
        const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'hello', content: name }] }] });
        return { reference: await pushLayout(layout, 'v1', upstream, { name }), digest: built.manifest.digest };
      };
      const signed = await push('outage/signed');
      await cosignSign(upstream, 'outage/signed', signed.digest, signed.reference, key, work);
      const other = await push('outage/other');
      const cache = await storage('outage', { offline: 'always' });
      let text = '';
      const log = new Logger({ sink: (chunk) => (text += chunk), color: false });
      expect((await new ImageCache(cache, log, () => verifier).get(signed.reference, 'always', PULL)).image.verdict?.signed).toBe(true);
      // The other image reached the cache without a policy: its signatures were never read.
      await new ImageCache(cache, quiet, () => undefined).get(other.reference, 'always', PULL);
      await upstream.stop();
      running = false;
      const offline = await new ImageCache(cache, log, () => verifier).get(signed.reference, 'always', PULL);
      expect(offline.offline).toBe(true);
      expect(offline.image.verdict?.text).toBe(`signed: ${signed.digest} verified with ${key.publicFile} (default)`);
      expect(text).toMatch(/using the signatures of .*outage\/signed:sha256-[a-f0-9]{64}\.sig stored when they were last fetched/);
      const refused = await new ImageCache(cache, quiet, () => verifier).get(other.reference, 'always', PULL).then(() => undefined, (error: unknown) => describeError(error));
      expect(refused).toMatch(/refused by policy .*: its signatures could not be read/);
    } finally {
      if (running) await upstream.stop();
    }
  });
});
