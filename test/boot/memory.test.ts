// The demo job on a 256 MiB machine. The initramfs used to need 384 MiB: the kernel holds the
// compressed file and the unpacked cpio at once ("Initramfs unpacking failed: write error" at 256).
// With Node, the libraries and the modules in the runtime image (initrd/runtime-image.ts), the RAM
// copy of them is the compressed one, and what Node reads is page cache the kernel can reclaim.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot } from '../../qemu/harness.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

let registry: TestRegistry;
let work: string;
let demo: string;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-memory-'));
  await buildImageLayout(join(work, 'layout'), 'demo', demoImageSpec());
  demo = (await pushLayout(join(work, 'layout'), 'demo', registry, { name: 'ocinit/demo' })).replace(/^127\.0\.0\.1:/, '10.0.2.2:');
}, 60_000);

afterAll(async () => {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('memory', () => {
  it('runs the demo job in 256 MiB of RAM', async () => {
    const result = await boot({
      memMiB: 256,
      timeoutSeconds: 300,
      append: [`b2c.container="--tls-verify=false ${demo} sh -c 'echo demo ran with $(grep MemTotal /proc/meminfo | tr -s \\" \\")'"`],
    });
    if (result.kernelPanic || result.status !== 0) process.stderr.write(result.console);
    expect(result.timedOut).toBe(false);
    expect(result.kernelPanic).toBe(false);
    expect(result.console).not.toMatch(/Initramfs unpacking failed|Out of memory/);
    expect(result.console).toMatch(/demo ran with MemTotal: \d+ kB/);
    expect(result.status).toBe(0);
  }, 360_000);
});
