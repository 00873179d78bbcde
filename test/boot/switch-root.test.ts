// b2c.switch_root into a full Debian with systemd (debootstrap, cached under build/), pushed to a
// registry on the host: systemd must reach multi-user.target and run a unit that prints a marker
// (with PID 1's arguments and environment, which came through the hand-off) and powers off.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianSystemdTar } from '../../qemu/debian-image.ts';
import { boot, REPO_ROOT } from '../../qemu/harness.ts';
import { parseSummary } from '../../src/run/summary.ts';
import { buildImageLayout, pushLayout } from '../support/image.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** OCINIT_INITRD: boot another initramfs than build/'s (e.g. an uncompressed one while iterating). */
const INITRD = process.env.OCINIT_INITRD === undefined ? {} : { initrd: process.env.OCINIT_INITRD };

const MARKER_UNIT = `[Unit]
Description=ocinit switch_root marker
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "OCINIT-SWITCH-ROOT-MARKER target=$(systemctl is-active multi-user.target) pid1=$(tr "\\\\0" " " < /proc/1/cmdline) env=$(tr "\\\\0" "\\\\n" < /proc/1/environ | grep ^OCINIT_TEST=)" > /dev/console'
ExecStartPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
`;

let registry: TestRegistry;
let work: string;
let reference: string;

beforeAll(async () => {
  const tar = debianSystemdTar(join(REPO_ROOT, 'build'));
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-switch-root-'));
  await buildImageLayout(join(work, 'layout'), 'bookworm', {
    layers: [
      { tar: readFileSync(tar), compression: 'zstd' },
      {
        files: [
          { path: 'etc/systemd/system/ocinit-marker.service', content: MARKER_UNIT, mode: 0o644 },
          { path: 'etc/systemd/system/multi-user.target.wants/ocinit-marker.service', type: 'symlink', linkTarget: '/etc/systemd/system/ocinit-marker.service' },
        ],
      },
    ],
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'container_host=ocinit'] },
  });
  reference = (await pushLayout(join(work, 'layout'), 'bookworm', registry, { name: 'ocinit/debian-systemd' })).replace(/^127\.0\.0\.1:/, '10.0.2.2:');
}, 900_000);

afterAll(async () => {
  await registry?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('switch_root', () => {
  it('boots Debian with systemd to multi-user from an image, with the init arguments and environment given', async () => {
    const result = await boot({
      ...INITRD,
      memMiB: 2048,
      timeoutSeconds: 600,
      // ip=dhcp: the launcher brings the network up only for containers and explicit network parameters.
      append: ['ip=dhcp', `b2c.switch_root="--tls-verify=false -e OCINIT_TEST='two words' ${reference} /sbin/init systemd.show_status=1"`],
    });
    if (!result.console.includes('OCINIT-SWITCH-ROOT-MARKER')) process.stderr.write(result.console.slice(-20_000));
    expect(result.kernelPanic).toBe(false);
    expect(result.timedOut).toBe(false);
    expect(result.console).toContain('Execution is over, pipeline status: 0');
    expect(result.console).toMatch(/ocinit: switching root to \S+, init \/sbin\/init/);
    expect(result.console).toMatch(/OCINIT-SWITCH-ROOT-MARKER target=active pid1=\/sbin\/init systemd.show_status=1\s+env=OCINIT_TEST=two words/);
    expect(result.console).toMatch(/reboot: Power down/);
    const summary = parseSummary(result.console);
    expect(summary?.end).toBe('switch_root');
    expect(summary?.containers[0]).toMatchObject({ parameter: 'b2c.switch_root', outcome: 'switched', digest: expect.stringMatching(/^sha256:/) });
  }, 1_200_000);
});
