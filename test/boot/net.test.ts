import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../qemu/demo-image.ts';
import { repoRoot, startLab, type Lab } from '../integration/net/lab.ts';
import { buildImageLayout } from '../support/image.ts';

// The network phase in the real initramfs, DUTs booted in QEMU on the lab's taps (qemu/lab boot):
// tap0 is on the network with dnsmasq's DHCP, tap1 on one without any DHCP server. Each test is one
// boot; they share one lab. Reproduce any of them by hand with the qemu/lab commands in docs/testing.md.

const BOOT_TIMEOUT_S = 150;
const kernel = join(repoRoot, 'build/vmlinuz');
const initrd = join(repoRoot, 'build/initrd.cpio.zst');
const EXTRA_ARGS = 'b2c.poweroff_delay=0\n';

let lab: Lab;

async function boot(args: readonly string[]): Promise<{ code: number; console: string }> {
  const result = await lab.boot(['--timeout', String(BOOT_TIMEOUT_S), ...args], (BOOT_TIMEOUT_S + 30) * 1000);
  expect(result.console).not.toContain('Kernel panic');
  return result;
}

beforeAll(async () => {
  for (const file of [kernel, initrd]) if (!existsSync(file)) throw new Error(`${file} is missing: make initrd`);
  lab = await startLab({ registry: true });
  const args = join(lab.dir, 'args.txt');
  writeFileSync(args, EXTRA_ARGS);
  await lab.publish(args, 'args.txt');
  // The demo image (busybox-static) in the lab's registry, pushed from inside the lab's namespace.
  await buildImageLayout(join(lab.dir, 'layout'), 'latest', demoImageSpec());
  await lab.exec(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${join(lab.dir, 'layout')}:latest`, 'docker://10.77.0.1:5000/ocinit/demo:latest']);
});

afterAll(async () => {
  await lab?.down();
});

describe('network at boot, in the lab', () => {
  it('gets a DHCP lease, sets a wrong clock by NTP, resolves the registry by name and pulls from it', async () => {
    const container = '--tls-verify=false docker://registry.lab:5000/ocinit/demo:latest echo pulled-by-name-and-ran';
    const { code, console } = await boot([
      '--nic', 'tap0', '--rtc', '2020-01-01', '--',
      'b2c.ntp_peer=10.77.0.1', 'b2c.extra_args_url=http://registry.lab:5000/v2/', `b2c.container="${container}"`,
    ]);
    expect(console).toMatch(/Network ready in [\d.]+ s: eth0\r?\n.*eth0: 10\.77\.0\.1\d\d\/24 via 10\.77\.0\.1, dns 10\.77\.0\.1 \(dhcp, [\d.]+ s; lease from 10\.77\.0\.1/);
    expect(console).toMatch(/NTP: clock changed from 2020-01-01T\S+ to 20\d\d-\S+ \(offset \d+\.\d+ s from 10\.77\.0\.1, stratum 8\)/);
    // The registry's /v2/ answers `{}`: two bytes of extra arguments prove the name resolved and the registry answered.
    expect(console).toContain('Extra arguments: 2 bytes from http://registry.lab:5000/v2/');
    expect(console).toContain('pulled-by-name-and-ran');
    expect(code).toBe(0);
  });

  it('configures a static b2c.iface with gateway, nameserver and route on a network without DHCP', async () => {
    const { code, console } = await boot([
      '--nic', 'tap1', '--',
      'b2c.iface=eth0,address=10.78.0.50/24,gateway=10.78.0.1,nameserver=10.78.0.1,route=10.77.0.0/24:10.78.0.1',
      'b2c.extra_args_url=http://http.lab/args.txt',
    ]);
    expect(console).toContain('$ busybox ip route replace 10.77.0.0/24 via 10.78.0.1 dev eth0');
    expect(console).toMatch(/eth0: 10\.78\.0\.50\/24 via 10\.78\.0\.1, dns 10\.78\.0\.1 \(static/);
    expect(console).toContain(`Extra arguments: ${EXTRA_ARGS.length} bytes from http://http.lab/args.txt`);
    expect(code).toBe(0);
  });

  it('applies a static ip= in userspace', async () => {
    const { code, console } = await boot(['--nic', 'tap1', '--', 'ip=10.78.0.51::10.78.0.1:255.255.255.0:dut:eth0:off:10.78.0.1', 'b2c.extra_args_url=http://http.lab/args.txt']);
    expect(console).toMatch(/eth0: 10\.78\.0\.51\/24 via 10\.78\.0\.1, dns 10\.78\.0\.1 \(static/);
    expect(console).toContain('Extra arguments: ');
    expect(code).toBe(0);
  });

  it('with ip=dhcp and two NICs, takes the lease of the second, the only one with a DHCP server', async () => {
    const { code, console } = await boot(['--nic', 'tap1', '--nic', 'tap0', '--', 'ip=dhcp']);
    expect(console).toContain('Network interfaces: eth0, eth1; candidates: eth0, eth1');
    expect(console).toMatch(/Network ready in [\d.]+ s: eth1\r?\n.*eth1: 10\.77\.0\.1\d\d\/24 via 10\.77\.0\.1/);
    expect(code).toBe(0);
  });

  it('without any DHCP server, says what each interface saw and powers off', async () => {
    // b2c.ntp_peer makes the launcher need the network; with nothing else, DHCP on every interface is the default.
    const { code, console } = await boot(['--nic', 'tap1', '--', 'b2c.ntp_peer=10.77.0.1']);
    expect(console).toContain('network: no interface could be configured (carrier timeout 5 s, DHCP timeout 10 s)');
    expect(console).toMatch(/eth0 \(dhcp\): no DHCP lease \(udhcpc exit 1: udhcpc: no lease, failing\) after [\d.]+ s/);
    expect(console).toContain("It's now safe to turn off your computer");
    expect(code).not.toBe(0);
  });

  it('shuts down cleanly when the extra arguments are not found', async () => {
    const { code, console } = await boot(['--nic', 'tap0', '--', 'b2c.extra_args_url=http://http.lab/missing.txt']);
    expect(console).toContain('cannot download the extra arguments: HTTP 404 Not Found (1 attempt)');
    expect(console).toContain('parameter: b2c.extra_args_url');
    expect(console).toContain("It's now safe to turn off your computer");
    expect(code).not.toBe(0);
  });

  it('netboots by PXE: iPXE gets a lease, fetches its script, the kernel and the initramfs over HTTP, and the DUT comes up', async () => {
    await lab.pxe(kernel, initrd, ['console=ttyS0', 'panic=-1', 'b2c.hostname=pxedut', 'b2c.ntp_peer=10.77.0.1']);
    const { code, console } = await boot(['--pxe']);
    expect(console).toMatch(/Kernel command line: .*b2c\.hostname=pxedut/);
    expect(console).toMatch(/Network ready in [\d.]+ s: eth0/);
    expect(code).toBe(0);
    const dhcpLog = readFileSync(join(lab.dir, 'dnsmasq.events.log'), 'utf8');
    expect(dhcpLog).toMatch(/vendor class: PXEClient/);
    expect(dhcpLog).toMatch(/DHCPACK\(lab0\) \S+ 52:54:00:12:34:56 pxedut/);
  });
});
