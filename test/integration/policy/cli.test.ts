// `ocinit sign`, `verify`, `pull --policy` and `inspect --policy` against a real registry. What sign
// writes is checked by tools that share no code with ocinit: skopeo (with sigstore attachments on)
// copies the signature as a standard cosign attachment, and openssl verifies its cryptography.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type TestKey } from '../../support/cosign.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';

const execFileAsync = promisify(execFile);
const CLI = join(import.meta.dirname, '../../../src/cli/main.ts');

let registry: TestRegistry;
let work: string;
let key: TestKey;
let policyFile: string;
let counter = 0;

async function ocinit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { env: { ...process.env, OCINIT_STORE: join(work, `store-${counter++}`) } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

async function pushImage(name: string, tag: string): Promise<{ reference: string; digest: string }> {
  const layout = join(work, `layout-${counter++}`);
  const built = await buildImageLayout(layout, tag, { layers: [{ files: [{ path: 'hello', content: `${name}:${tag}` }] }] });
  return { reference: await pushLayout(layout, tag, registry, { name }), digest: built.manifest.digest };
}

interface SignatureManifest {
  layers: { digest: string; mediaType: string; annotations: Record<string, string> }[];
}

async function signatureManifest(name: string, digest: string): Promise<SignatureManifest> {
  const response = await fetch(`${registry.url}/v2/${name}/manifests/sha256-${digest.slice(7)}.sig`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  expect(response.status).toBe(200);
  return (await response.json()) as SignatureManifest;
}

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-sign-'));
  key = makeKey(work, 'lab');
  policyFile = join(work, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: 'lab.pub' }] }));
});

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('ocinit sign and verify', () => {
  it('signs an image so that openssl, skopeo and ocinit verify all agree', async () => {
    const image = await pushImage('cli/app', 'v1');
    const unsigned = await ocinit('verify', '--policy', policyFile, '--tls-verify=false', image.reference);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stdout).toMatch(/refused: no signature at .*cli\/app:sha256-[a-f0-9]{64}\.sig/);

    const signed = await ocinit('sign', '--key', key.privateFile, '--tls-verify=false', image.reference);
    expect(signed.code).toBe(0);
    expect(signed.stdout.trim()).toBe(`${registry.host}/cli/app:sha256-${image.digest.slice(7)}.sig`);

    // openssl checks the cryptography over the payload's exact bytes.
    const manifest = await signatureManifest('cli/app', image.digest);
    expect(manifest.layers).toHaveLength(1);
    const [layer] = manifest.layers;
    expect(layer?.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    const payload = Buffer.from(await (await fetch(`${registry.url}/v2/cli/app/blobs/${layer?.digest ?? ''}`)).arrayBuffer());
    expect(JSON.parse(payload.toString())).toEqual({
      critical: { identity: { 'docker-reference': image.reference }, image: { 'docker-manifest-digest': image.digest }, type: 'cosign container image signature' },
      optional: null,
    });
    writeFileSync(join(work, 'payload'), payload);
    writeFileSync(join(work, 'payload.sig'), Buffer.from(layer?.annotations['dev.cosignproject.cosign/signature'] ?? '', 'base64'));
    expect(execFileSync('openssl', ['dgst', '-sha256', '-verify', key.publicFile, '-signature', join(work, 'payload.sig'), join(work, 'payload')]).toString()).toBe('Verified OK\n');

    // skopeo, told to use sigstore attachments, finds the signature where cosign puts it and copies it.
    const registriesD = join(work, 'registries.d');
    mkdirSync(registriesD, { recursive: true });
    writeFileSync(join(registriesD, 'default.yaml'), 'default-docker:\n  use-sigstore-attachments: true\n');
    const copy = join(work, 'skopeo-dir');
    execFileSync('skopeo', ['--registries.d', registriesD, 'copy', '--quiet', '--src-tls-verify=false', `docker://${image.reference}`, `dir:${copy}`]);
    const copied = readdirSync(copy).filter((name) => /^signature-\d+$/.test(name));
    expect(copied).toHaveLength(1);
    // containers/image's on-disk form of a sigstore attachment: a marker line, then JSON.
    const attachment = readFileSync(join(copy, copied[0] ?? '')).toString();
    expect(attachment.startsWith('\0sigstore-json\n')).toBe(true);
    const parsed = JSON.parse(attachment.slice('\0sigstore-json\n'.length)) as { mimeType: string; payload: string; annotations: Record<string, string> };
    expect(parsed.mimeType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(Buffer.from(parsed.payload, 'base64').equals(payload)).toBe(true);
    expect(parsed.annotations['dev.cosignproject.cosign/signature']).toBe(layer?.annotations['dev.cosignproject.cosign/signature']);

    const verified = await ocinit('verify', '--policy', policyFile, '--tls-verify=false', image.reference);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toBe(`${image.reference}: signed: ${image.digest} verified with ${key.publicFile} (default)\n`);
  });

  it('keeps the signatures already there when signing again', async () => {
    const image = await pushImage('cli/twice', 'v1');
    const other = makeKey(work, 'other');
    expect((await ocinit('sign', '--key', other.privateFile, '--tls-verify=false', image.reference)).code).toBe(0);
    expect((await ocinit('verify', '--policy', policyFile, '--tls-verify=false', image.reference)).code).toBe(1);
    expect((await ocinit('sign', '--key', key.privateFile, '--tls-verify=false', image.reference)).code).toBe(0);
    expect((await signatureManifest('cli/twice', image.digest)).layers).toHaveLength(2);
    expect((await ocinit('verify', '--policy', policyFile, '--tls-verify=false', image.reference)).code).toBe(0);
  });

  it('pull --policy unpacks only a signed image; inspect --policy reports the verdict', async () => {
    const image = await pushImage('cli/pulled', 'v1');
    const target = join(work, 'root');
    const refused = await ocinit('pull', '--policy', policyFile, '--tls-verify=false', image.reference, target);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/refused: no signature at/);
    expect(existsSync(target)).toBe(false);
    expect((await ocinit('sign', '--key', key.privateFile, '--tls-verify=false', image.reference)).code).toBe(0);
    const pulled = await ocinit('pull', '--policy', policyFile, '--tls-verify=false', image.reference, target);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toContain(`signed: ${image.digest} verified with ${key.publicFile}`);
    expect(readFileSync(join(target, 'hello'), 'utf8')).toBe('cli/pulled:v1');
    const inspected = await ocinit('inspect', '--policy', policyFile, '--tls-verify=false', image.reference);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ digest: image.digest, signature: `signed: ${image.digest} verified with ${key.publicFile} (default)` });
    const plain = await ocinit('inspect', '--tls-verify=false', image.reference);
    expect(JSON.parse(plain.stdout)).toMatchObject({ signature: 'unsigned: no policy' });
  });

  it('sign --bundle pushes a Sigstore bundle referrer that verify accepts', async () => {
    const image = await pushImage('cli/bundled', 'v1');
    const signed = await ocinit('sign', '--bundle', '--key', key.privateFile, '--tls-verify=false', image.reference);
    expect(signed.code).toBe(0);
    expect(signed.stdout.trim()).toMatch(new RegExp(`^${registry.host}/cli/bundled@sha256:[a-f0-9]{64}$`));
    expect(signed.stderr).toContain(`listed by the tag sha256-${image.digest.slice(7)}`);
    const verified = await ocinit('verify', '--policy', policyFile, '--tls-verify=false', image.reference);
    expect(verified.stdout).toContain(`signed: ${image.digest} verified with ${join(work, 'lab.pub')} (default, Sigstore bundle)`);
    expect(verified.code).toBe(0);
  });

  it('refuses a policy naming a missing key, and a sign without a usable key', async () => {
    const bad = join(work, 'bad-policy.json');
    writeFileSync(bad, JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: '/nonexistent/k.pub' }] }));
    const refused = await ocinit('verify', '--policy', bad, 'registry.invalid/x:1');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('default[0].keyPath: cannot read key /nonexistent/k.pub');
    const noKey = await ocinit('sign', 'registry.invalid/x:1');
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--key KEY.pem is required');
    const publicOnly = await ocinit('sign', '--key', key.publicFile, 'registry.invalid/x:1');
    expect(publicOnly.code).toBe(1);
    expect(publicOnly.stderr).toContain('is not a PEM private key');
  });
});
