// fscrypt_key booted for real, twice on the same cache disk: the first boot formats the cache
// (ext4 with the encrypt feature) and writes into an encrypted volume; the host then finds neither
// the file's name nor its content on the disk, while the same content in a plain volume is there
// in clear; the second boot, given the key again, reads the file back.
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { boot, type BootResult } from '../../qemu/harness.ts';
import { createBlankImage, listImageDirectory, partitionOffset } from '../integration/cache/disk-image.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

let registry: TestRegistry;
let work: string;
let image: string;
const KEY = Buffer.alloc(64, 0x5a).toString('base64');
// Written by the containers' shell: the command line (also kept on the cache in bundles) never holds it.
const CONTENT = 'sealed-123456';
const WRITE = `printf %s-%s sealed $((123*1000+456))`;

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-boot-fscrypt-'));
  await buildImageLayout(join(work, 'layout'), 'fscrypt', demoImageSpec());
  image = (await pushLayout(join(work, 'layout'), 'fscrypt', registry, { name: 'ocinit/fscrypt' })).replace(registry.host, `10.0.2.2:${registry.port}`);
}, 120_000);

afterAll(async () => {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

/** How many times `text` occurs in the file, read in chunks that overlap by its length. */
function occurrences(path: string, text: string): number {
  const needle = Buffer.from(text);
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  const fd = openSync(path, 'r');
  let count = 0;
  try {
    for (let position = 0; ; position += chunk.length - needle.length) {
      const read = readSync(fd, chunk, 0, chunk.length, position);
      const view = chunk.subarray(0, read);
      for (let at = view.indexOf(needle); at >= 0 && at <= read - needle.length; at = view.indexOf(needle, at + 1)) {
        if (position === 0 || at >= needle.length) count++;
      }
      if (read < chunk.length) return count;
    }
  } finally {
    closeSync(fd);
  }
}

async function bootJob(disk: string, command: string): Promise<BootResult> {
  const result = await boot({
    disks: [disk],
    append: ['b2c.cache_device=auto', 'b2c.cache_wait=3', `b2c.volume=vault,fscrypt_key=${KEY}`, 'b2c.volume=plain', `b2c.container="--tls-verify=false -v vault:/vault -v plain:/plain ${image} sh -c '${command}'"`],
    timeoutSeconds: 300,
  });
  if (result.status !== 0) process.stderr.write(result.console);
  expect(result.kernelPanic).toBe(false);
  expect(result.status).toBe(0);
  return result;
}

describe('fscrypt_key', () => {
  it('encrypts a volume on the cache that survives a reboot with its key and is unreadable on the disk without it', async () => {
    const disk = join(work, 'cache.img');
    createBlankImage(disk, 1024 ** 3);
    const first = await bootJob(disk, `${WRITE} > /vault/report; ${WRITE} > /plain/report; sync`);
    expect(first.console).toMatch(/Volume vault: encrypted with key [0-9a-f]{32}(?!, unlocked)/);
    expect(first.console).not.toContain(KEY);

    const offset = partitionOffset(disk, 1);
    expect(listImageDirectory(disk, offset, '/volumes/plain')).toEqual(['report']);
    const sealed = listImageDirectory(disk, offset, '/volumes/vault');
    expect(sealed).toHaveLength(1);
    expect(sealed).not.toContain('report');
    // The plain copy shows the disk holds the bytes in clear when nothing encrypts them.
    expect(occurrences(disk, CONTENT)).toBe(1);

    const second = await bootJob(disk, 'echo vault: $(cat /vault/report)');
    expect(second.console).toMatch(/Volume vault: encrypted with key [0-9a-f]{32}, unlocked/);
    expect(second.console).toContain(`vault: ${CONTENT}`);
  });
});
