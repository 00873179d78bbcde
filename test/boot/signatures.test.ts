// A built-in signature policy at boot: the initramfs carries /etc/ocinit/policy.json and its key
// (as make initrd POLICY= lays them out, appended here as a second archive to spare a rebuild); a
// signed image runs, an unsigned one is refused before anything of it is downloaded or run. The
// signed boot has a TPM (Debian's swtpm): the PCR read back in the guest is recomputed here from
// the event log the guest printed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CpioEntry } from '../../initrd/cpio.ts';
import { writeOverlayInitramfs } from '../../initrd/overlay.ts';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, defaultInitrd, type BootResult } from '../../qemu/harness.ts';
import { embedPolicy } from '../../src/policy/embed.ts';
import { EVENT_LOG_FILE, EVENT_LOG_MARKER } from '../../src/tpm/boot.ts';
import { replayEventLog, type EventLog } from '../../src/tpm/measure.ts';
import { startSwtpmForQemu } from '../support/swtpm.ts';
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
  it('runs a signed image, says which key verified it, and measures it into the TPM before it runs', async () => {
    const tpm = await startSwtpmForQemu();
    let result: BootResult;
    try {
      result = await boot({ initrd, timeoutSeconds: 240, append: [`b2c.container="--tls-verify=false ${signed}"`], extraArgs: tpm.qemuArgs });
    } finally {
      await tpm.stop();
    }
    expectCleanEnd(result);
    expect(result.console).toMatch(/signed: sha256:[a-f0-9]{64} verified with \/etc\/ocinit\/keys\/1-lab\.pub \(default\)/);
    expect(result.console).toContain('SIGNED IMAGE RAN');
    const summary = parseSummary(result.console);
    expect(summary?.status).toBe(0);
    expect(summary?.containers[0]?.signature).toMatch(/^signed: sha256:[a-f0-9]{64} verified with \/etc\/ocinit\/keys\/1-lab\.pub \(default\)$/);
    // The PCR the guest read back after the extend equals the event log replayed here.
    const readBack = /tpm: PCR 15 after [^:]+:\d+\/policy\/signed:v1: ((?:\w+=[a-f0-9]+ ?)+)/.exec(result.console)?.[1];
    expect(readBack).toBeDefined();
    const guestValues = Object.fromEntries((readBack ?? '').trim().split(' ').map((pair) => pair.split('=') as [string, string]));
    expect(guestValues.sha256).toMatch(/^[a-f0-9]{64}$/);
    const logLine = result.console.split(/\r?\n/).filter((line) => line.includes(EVENT_LOG_MARKER)).at(-1) ?? '';
    const eventLog = JSON.parse(logLine.slice(logLine.indexOf(EVENT_LOG_MARKER) + EVENT_LOG_MARKER.length)) as EventLog;
    expect(eventLog.pcr).toBe(15);
    expect(eventLog.events.map((event) => event.type)).toEqual(['cmdline', 'image']);
    expect(eventLog.events[0]?.data).toContain(`b2c.container="--tls-verify=false ${signed}"`);
    expect(JSON.parse(eventLog.events[1]?.data ?? '{}')).toMatchObject({ image: signed, digest: summary?.containers[0]?.digest, signature: summary?.containers[0]?.signature });
    expect(replayEventLog(eventLog)).toEqual(guestValues);
    // The summary points at the event log the PCR is recomputed from.
    expect(summary?.tpm).toEqual({ pcr: 15, banks: Object.keys(guestValues), eventLog: EVENT_LOG_FILE, events: 2 });
  });

  it('refuses an unsigned image: nothing of it is downloaded or run, and the machine powers off', async () => {
    const result = await boot({ initrd, timeoutSeconds: 240, append: [`b2c.container="--tls-verify=false ${unsigned}"`] });
    expectCleanEnd(result);
    expect(result.console).toMatch(/policy\/unsigned:v1 \(sha256:[a-f0-9]{64}\) refused: no signature at 10\.0\.2\.2:\d+\/policy\/unsigned:sha256-[a-f0-9]{64}\.sig/);
    expect(result.console).not.toContain('UNSIGNED IMAGE RAN');
    expect(parseSummary(result.console)?.status).not.toBe(0);
  });
});
