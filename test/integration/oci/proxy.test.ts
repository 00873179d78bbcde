// b2c.proxy in each of its forms, from the command line to the registry client, through Debian's
// tinyproxy: an HTTPS registry is reached with CONNECT, a plain HTTP one by forwarding, and the
// per-scheme form (`https=URL`, CI-tron's) proxies its own scheme only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import type { ProxyConfig } from '../../../src/net/proxy-config.ts';
import { pullImage, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { startTinyproxy, type Tinyproxy } from '../../support/tinyproxy.ts';

let secure: TestRegistry;
let plain: TestRegistry;
let proxy: Tinyproxy;
let work: string;
let secureImage: string;
let plainImage: string;
let counter = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-proxy-pull-'));
  [secure, plain, proxy] = await Promise.all([startRegistry({ tls: true }), startRegistry(), startTinyproxy()]);
  const layout = join(work, 'layout');
  await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'through-the-proxy', content: 'yes' }] }] });
  [secureImage, plainImage] = await Promise.all([pushLayout(layout, 'v1', secure, { name: 'lab/job' }), pushLayout(layout, 'v1', plain, { name: 'lab/job' })]);
});

afterAll(async () => {
  await Promise.all([secure?.stop(), plain?.stop(), proxy?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

function proxyOf(value: string): ProxyConfig | undefined {
  const { plan, problems } = parseCommandLine(`b2c.proxy="${value}"`, { env: {} });
  expect(problems).toEqual([]);
  return plan.proxy;
}

/** Pulls from both registries with this b2c.proxy; returns which of them went through tinyproxy. */
async function pullBoth(value: string): Promise<{ secure: boolean; plain: boolean }> {
  const config = proxyOf(value);
  const before = proxy.requests().length;
  const store = (): ContentStore => new ContentStore(join(work, `store-${counter++}`));
  const fromSecure = await pullImage(parseReference(secureImage), { store: store(), caFile: secure.caFile, proxy: config, attempts: 1 });
  const fromPlain = await pullImage(parseReference(plainImage), { store: store(), tlsVerify: false, proxy: config, attempts: 1 });
  expect([fromSecure.layers.length, fromPlain.layers.length]).toEqual([1, 1]);
  const requests = proxy.requests().slice(before);
  return {
    secure: requests.includes(`CONNECT ${secure.host}`),
    plain: requests.some((request) => request.startsWith(`GET http://${plain.host}/v2/`)),
  };
}

describe('b2c.proxy through tinyproxy', () => {
  it('one URL proxies every registry: HTTPS with CONNECT, plain HTTP forwarded', async () => {
    expect(await pullBoth(proxy.url)).toEqual({ secure: true, plain: true });
  });

  it('https=URL (the per-scheme form) proxies HTTPS registries only; plain HTTP goes direct', async () => {
    expect(await pullBoth(`https=${proxy.url}`)).toEqual({ secure: true, plain: false });
  });

  it('http=URL proxies plain HTTP only; all=URL both', async () => {
    expect(await pullBoth(`http=${proxy.url}`)).toEqual({ secure: false, plain: true });
    expect(await pullBoth(`all=${proxy.url}`)).toEqual({ secure: true, plain: true });
  });
});
