// A built-in signature policy at boot: the initramfs carries /etc/ocinit/policy.json and its key
// (as make initrd POLICY= lays them out, appended here as a second archive to spare a rebuild); a
// signed image runs, an unsigned one is refused before anything of it is downloaded or run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CpioEntry } from '../../initrd/cpio.ts';
import { writeOverlayInitramfs } from '../../initrd/overlay.ts';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, defaultInitrd, type BootResult } from '../../qemu/harness.ts';
import { embedPolicy } from '../../src/policy/embed.ts';
import { parseSummary } from '../../src/run/summary.ts';
import { cosignSign, makeKey } from '../support/cosign.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

let registry: TestRegistry;
let work: string;
let initrd: string;
let signed: string;
let unsigned: string;

const guestReference = (pushed: string): string => pushed.replace(/^127\.0\.0\.1:/, '10.0.2.2:');

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-signatures-'));
  const key = makeKey(work, 'lab');
  const built = await buildImageLayout(join(work, 'signed'), 'v1', demoImageSpec({ Cmd: ['echo', 'SIGNED IMAGE RAN'] }));
  signed = guestReference(await pushLayout(join(work, 'signed'), 'v1', registry, { name: 'policy/signed' }));
  // Signed for the name the guest pulls it by.
  await cosignSign(registry, 'policy/signed', built.manifest.digest, signed, key, work);
  await buildImageLayout(join(work, 'unsigned'), 'v1', demoImageSpec({ Cmd: ['echo', 'UNSIGNED IMAGE RAN'] }));
  unsigned = guestReference(await pushLayout(join(work, 'unsigned'), 'v1', registry, { name: 'policy/unsigned' }));

  const policyFile = join(work, 'policy.json');
  writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: 'lab.pub' }] }));
  const embedded = embedPolicy(readFileSync(policyFile, 'utf8'), policyFile);
  const entries: CpioEntry[] = [
    { type: 'directory', path: '/etc/ocinit', mode: 0o755 },
    { type: 'directory', path: '/etc/ocinit/keys', mode: 0o755 },
    { type: 'inline', path: '/etc/ocinit/policy.json', mode: 0o644, data: Buffer.from(embedded.text) },
    ...embedded.keys.map((entry): CpioEntry => ({ type: 'inline', path: entry.path, mode: 0o644, data: readFileSync(entry.source) })),
  ];
  initrd = join(work, 'initrd-with-policy');
  await writeOverlayInitramfs(process.env.OCINIT_INITRD ?? defaultInitrd(), entries, initrd);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function expectCleanEnd(result: BootResult): void {
  if (result.kernelPanic || result.timedOut || !/reboot: Power down/.test(result.console)) process.stderr.write(result.console);
  expect(result.timedOut).toBe(false);
  expect(result.kernelPanic).toBe(false);
  expect(result.console).toMatch(/reboot: Power down/);
}

describe('a built-in signature policy', () => {
  it('runs a signed image and says which key verified it', async () => {
    const result = await boot({ initrd, timeoutSeconds: 240, append: [`b2c.container="--tls-verify=false ${signed}"`] });
    expectCleanEnd(result);
    expect(result.console).toMatch(/signed: sha256:[a-f0-9]{64} verified with \/etc\/ocinit\/keys\/1-lab\.pub \(default\)/);
    expect(result.console).toContain('SIGNED IMAGE RAN');
    expect(parseSummary(result.console)?.status).toBe(0);
  });

  it('refuses an unsigned image: nothing of it is downloaded or run, and the machine powers off', async () => {
    const result = await boot({ initrd, timeoutSeconds: 240, append: [`b2c.container="--tls-verify=false ${unsigned}"`] });
    expectCleanEnd(result);
    expect(result.console).toMatch(/policy\/unsigned:v1 \(sha256:[a-f0-9]{64}\) refused: no signature at 10\.0\.2\.2:\d+\/policy\/unsigned:sha256-[a-f0-9]{64}\.sig/);
    expect(result.console).not.toContain('UNSIGNED IMAGE RAN');
    expect(parseSummary(result.console)?.status).not.toBe(0);
  });
});
