// A DUT told about its gateway's pull-through mirror on the command line: the upstream registry and a
// docker-registry in proxy mode in front of it, both on the host (10.0.2.2 in the guest). One boot:
// the mirror comes from b2c.extra_args_url, the image from the mirror.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot } from '../../qemu/harness.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const INITRD = process.env.OCINIT_INITRD === undefined ? {} : { initrd: process.env.OCINIT_INITRD };
const guest = (host: string): string => host.replace(/^127\.0\.0\.1:/, '10.0.2.2:');

let upstream: TestRegistry;
let mirror: TestRegistry;
let extraArgs: Server;
let extraArgsPort = 0;
let work: string;
let image: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-mirror-'));
  upstream = await startRegistry({ accessLog: true });
  mirror = await startRegistry({ accessLog: true, proxyRemoteUrl: upstream.url });
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  image = guest(await pushLayout(join(work, 'layout'), 'demo', upstream, { name: 'ocinit/demo' }));
  const args = `b2c.registry_mirror=${guest(upstream.host)}=${guest(mirror.host)},insecure\n`;
  extraArgs = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end(args));
  await new Promise<void>((resolve) => extraArgs.listen(0, '127.0.0.1', resolve));
  const address = extraArgs.address();
  extraArgsPort = typeof address === 'object' && address !== null ? address.port : 0;
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => extraArgs?.close(resolve));
  await mirror?.stop();
  await upstream?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('mirror boot', () => {
  it('pulls the image through the mirror named in the extra arguments', async () => {
    const result = await boot({
      ...INITRD,
      timeoutSeconds: 300,
      append: [`b2c.extra_args_url=http://10.0.2.2:${extraArgsPort}/args`, `b2c.container="--tls-verify=false ${image} echo ran from the mirror"`],
    });
    if (result.status !== 0) process.stderr.write(result.console);
    expect(result.kernelPanic).toBe(false);
    expect(result.status).toBe(0);
    expect(result.console).toContain('ran from the mirror');
    expect(result.console).toMatch(new RegExp(`manifest sha256:[0-9a-f]{64} \\([^)]*\\) from mirror ${guest(mirror.host).replace(/\./g, '\\.')}`));
    const servedBlobs = mirror.accessLog().filter((record) => record.method === 'GET' && record.path.includes('/blobs/') && record.status === 200);
    expect(servedBlobs.length).toBeGreaterThanOrEqual(2);
  });
});
