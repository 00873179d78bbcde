import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = readFileSync(new URL('../../../initrd/init.sh', import.meta.url), 'utf8');
const scalarHashing = /^scalar_hashing_under_tcg\(\) \{\n[\s\S]*?\n\}\n/m.exec(script)?.[0] ?? '';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function cpuinfo(modelName: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cpuinfo-'));
  dirs.push(dir);
  const path = join(dir, 'cpuinfo');
  writeFileSync(path, `processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: ${modelName}\nflags\t\t: fpu sse2 ssse3 avx avx2\n`);
  return path;
}

/** What init.sh exports for OpenSSL after its check of this cpuinfo. */
function ia32capAfter(cpuinfoPath: string): string {
  const run = `${scalarHashing}scalar_hashing_under_tcg "$1"; echo "\${OPENSSL_ia32cap-unset}"`;
  return execFileSync('/bin/busybox', ['sh', '-c', run, 'init.sh', cpuinfoPath], { env: {}, encoding: 'utf8' }).trim();
}

describe("init.sh's choice of OpenSSL's SHA-256 code", () => {
  it('is found in init.sh', () => {
    expect(scalarHashing).toContain('OPENSSL_ia32cap');
  });

  it("masks the vector paths on QEMU's TCG CPU, whose vector instructions are emulated slowly", () => {
    expect(ia32capAfter(cpuinfo('QEMU TCG CPU version 2.5+'))).toBe('~0x1000020000000000:~0x20');
  });

  it("leaves OpenSSL's own choice on real hardware and KVM guests", () => {
    expect(ia32capAfter(cpuinfo('AMD EPYC 7B13'))).toBe('unset');
    expect(ia32capAfter(cpuinfo('Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz'))).toBe('unset');
  });

  it('leaves it too when the cpuinfo cannot be read', () => {
    expect(ia32capAfter('/nonexistent/cpuinfo')).toBe('unset');
  });

  it("gives Node's OpenSSL a mask it accepts: the digests stay SHA-256's", () => {
    const ia32cap = ia32capAfter(cpuinfo('QEMU TCG CPU version 2.5+'));
    const data = randomBytes(3 << 20);
    const program = "const h = require('node:crypto').createHash('sha256'); process.stdin.on('data', (c) => h.update(c)).on('end', () => process.stdout.write(h.digest('hex')))";
    const digest = execFileSync(process.execPath, ['-e', program], { input: data, env: { OPENSSL_ia32cap: ia32cap }, encoding: 'utf8' });
    expect(digest).toBe(createHash('sha256').update(data).digest('hex'));
  });
});
