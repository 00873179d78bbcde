// Mirrors as a farm runs them: a docker-registry in pull-through mode (`proxy: remoteurl:`) in front
// of the upstream registry, configured with `--mirror` or a registries.conf file.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegistryArguments } from '../../../src/cli/pull.ts';
import { pullAndUnpack, type PullOptions, parseReference } from '../../../src/oci/index.ts';
import { ContentStore } from '../../../src/store/index.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type AccessRecord, type TestRegistry } from '../../support/registry.ts';

let upstream: TestRegistry;
let mirror: TestRegistry;
let work: string;
let tagged: string;
let pinned: string;
let counter = 0;
const fresh = (name: string): string => join(work, `${name}-${counter++}`);

const blobGets = (log: AccessRecord[]): AccessRecord[] => log.filter((record) => record.method === 'GET' && record.path.includes('/blobs/'));

/** `ocinit pull`'s argument parsing, then the pull it describes into a fresh store. */
async function cliPull(args: string[], reference: string): Promise<{ source: string; dir: string }> {
  const parsed = parseRegistryArguments([...args, reference, 'unused']);
  if (typeof parsed === 'string') throw new Error(parsed);
  const dir = fresh('rootfs');
  const options: PullOptions = { ...parsed.options, store: new ContentStore(fresh('store')), attempts: 2, retryDelayMs: 10 };
  const pulled = await pullAndUnpack(parseReference(reference), dir, options);
  expect(readFileSync(join(dir, 'data'), 'utf8')).toHaveLength(200_000);
  return { source: pulled.source, dir };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ocinit-mirror-'));
  upstream = await startRegistry({ accessLog: true });
  mirror = await startRegistry({ accessLog: true, proxyRemoteUrl: upstream.url });
  const layout = fresh('layout');
  const built = await buildImageLayout(layout, 'v1', { layers: [{ files: [{ path: 'data', content: randomBytes(150_000).toString('base64').slice(0, 200_000) }] }] });
  tagged = await pushLayout(layout, 'v1', upstream, { name: 'farm/app' });
  pinned = `${upstream.host}/farm/app@${built.manifest.digest}`;
});

afterAll(async () => {
  await mirror?.stop();
  await upstream?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('a pull-through mirror', () => {
  it('serves every pull after the first without the upstream sending a blob again', async () => {
    const before = blobGets(upstream.accessLog()).length;
    const first = await cliPull(['--mirror', `${upstream.host}=${mirror.host},insecure`], tagged);
    expect(first.source).toBe(`mirror ${mirror.host}`);
    // docker-registry 2.8 in proxy mode fetches a blob it does not have twice: one stream to the
    // client, and one to its own storage in the background, which is waited for here.
    const deadline = Date.now() + 10_000;
    while (blobGets(upstream.accessLog()).length - before < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const fetched = blobGets(upstream.accessLog()).slice(before);
    // The config and the layer.
    expect(new Set(fetched.map((record) => record.path)).size).toBe(2);
    expect(fetched).toHaveLength(4);
    await cliPull(['--mirror', `${upstream.host}=${mirror.host},insecure`], tagged);
    await cliPull(['--mirror', `${upstream.host}=${mirror.host},insecure`], pinned);
    expect(blobGets(upstream.accessLog()).length - before).toBe(fetched.length);
    expect(blobGets(mirror.accessLog()).filter((record) => record.status === 200).length).toBeGreaterThanOrEqual(6);
  });

  it('reads the mirrors and pull-from-mirror from a registries.conf file', async () => {
    const conf = fresh('registries.conf');
    writeFileSync(
      conf,
      `[[registry]]\nprefix = "${upstream.host}/farm"\n\n[[registry.mirror]]\nlocation = "${mirror.host}/farm"\ninsecure = true\npull-from-mirror = "digest-only"\n`,
    );
    expect((await cliPull(['--tls-verify=false', '--registries-conf', conf], pinned)).source).toBe(`mirror ${mirror.host}/farm`);
    // A tag is not taken from a digest-only mirror: it comes from the registry itself.
    expect((await cliPull(['--tls-verify=false', '--registries-conf', conf], tagged)).source).toBe(`registry ${upstream.host}`);
  });

  it('falls back to the registry when the mirror is down', async () => {
    const down = `127.0.0.1:1`;
    expect((await cliPull(['--tls-verify=false', '--mirror', `${upstream.host}=${down},insecure`], tagged)).source).toBe(`registry ${upstream.host}`);
  });
});
