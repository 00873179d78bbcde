// b2c.proxy in a real boot, in its per-scheme form (`http=URL`, as CI-tron writes it), through Debian's
// tinyproxy on the host. The image is named 127.0.0.1:PORT: the guest's own loopback has no registry,
// so the pull can only succeed through the proxy, which reaches the host's. The other forms go the
// same way from the Plan to the registry client and are pulled through tinyproxy on the host
// (test/integration/oci/proxy.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot } from '../../qemu/harness.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTinyproxy, type Tinyproxy } from '../support/tinyproxy.ts';

let registry: TestRegistry;
let proxy: Tinyproxy;
let work: string;
let image: string;

beforeAll(async () => {
  [registry, proxy] = await Promise.all([startRegistry(), startTinyproxy()]);
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-proxy-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  image = await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/behind-proxy' });
}, 60_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), proxy?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

describe('b2c.proxy at boot', () => {
  it('the per-scheme form proxies the pull of a plain-HTTP registry the guest cannot reach itself', async () => {
    const proxyPort = new URL(proxy.url).port;
    const result = await boot({
      timeoutSeconds: 300,
      append: [`b2c.proxy="http=http://10.0.2.2:${proxyPort}"`, `b2c.container="--tls-verify=false ${image} echo pulled-through-the-proxy"`],
    });
    if (result.timedOut || result.kernelPanic || result.status !== 0) process.stderr.write(result.console);
    expect(result.kernelPanic).toBe(false);
    expect(result.status).toBe(0);
    expect(result.console).toMatch(/^pulled-through-the-proxy\r?$/m);
    expect(proxy.requests()).toContainEqual(expect.stringMatching(new RegExp(`^GET http://${registry.host.replace(/\./g, '\\.')}/v2/`)));
  });
});
