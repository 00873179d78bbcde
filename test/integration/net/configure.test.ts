import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkSummary } from '../../../src/net/types.ts';
import { inNamespace, LAB_GATEWAY, repoRoot, SILENT_GATEWAY, startLab, type Lab } from './lab.ts';

// The network phase for real: busybox udhcpc and ip inside a DUT network namespace, wired by veths
// to the lab's bridges, dnsmasq answering DHCP and DNS. Only QEMU is missing (test/boot/net*.test.ts).

const udhcpcScript = `${repoRoot}initrd/rootfs/usr/share/ocinit/udhcpc.script`;
const driver = `${repoRoot}test/integration/net/dut-driver.ts`;

interface PlanInput {
  interfaces?: unknown[];
  ip?: unknown;
}

interface DutRun {
  console: string;
  summary?: NetworkSummary;
  error?: string;
}

let lab: Lab;
let dutCounter = 0;

async function newDut(links: [string, 'lab0' | 'lab1'][]): Promise<string> {
  dutCounter += 1;
  const dut = `${lab.ns}d${dutCounter}`;
  for (const [ifname, bridge] of links) await lab.veth(dut, ifname, bridge);
  return dut;
}

async function bringUp(dut: string, plan: PlanInput, options: Record<string, unknown> = {}): Promise<DutRun> {
  const input = {
    plan: { interfaces: [], ntpPeer: { kind: 'none' }, hostname: dut, ...plan },
    options: { udhcpcScript, resolvConfPath: '/etc/resolv.conf', timeoutMs: 6_000, carrierTimeoutMs: 2_000, ...options },
  };
  const result = await inNamespace(dut, [process.execPath, driver, JSON.stringify(input)]);
  const resultLine = /^RESULT (.*)$/m.exec(result.stdout)?.[1];
  const errorLine = /^ERROR (.*)$/m.exec(result.stdout)?.[1];
  return {
    console: result.stdout + result.stderr,
    summary: resultLine === undefined ? undefined : (JSON.parse(resultLine) as NetworkSummary),
    error: errorLine === undefined ? undefined : (JSON.parse(errorLine) as string),
  };
}

/** What a container on the DUT would do: resolve the registry's name with the DUT's resolv.conf and ask /v2/. */
async function registryStatusFrom(dut: string): Promise<string> {
  const script = "const r = await fetch('http://registry.lab:5000/v2/'); console.log(r.status, r.headers.get('docker-distribution-api-version'));";
  const result = await inNamespace(dut, [process.execPath, '--input-type=module', '-e', script], 20_000);
  return result.code === 0 ? result.stdout.trim() : `failed: ${result.stderr.trim()}`;
}

async function addressesOf(dut: string, ifname: string): Promise<string> {
  return (await inNamespace(dut, ['ip', '-4', '-o', 'addr', 'show', 'dev', ifname])).stdout;
}

beforeAll(async () => {
  lab = await startLab({ registry: true });
});

afterAll(async () => {
  await lab?.down();
});

describe('network phase in the lab', () => {
  it('races DHCP on two NICs, takes the lease of the only one with a server, and the registry resolves by name', async () => {
    const dut = await newDut([['eth0', 'lab1'], ['eth1', 'lab0']]);
    const run = await bringUp(dut, {});
    expect(run.error).toBeUndefined();
    const [winner, other] = run.summary?.interfaces ?? [];
    expect(winner).toMatchObject({ name: 'eth1', method: 'dhcp', ok: true, gateway: LAB_GATEWAY, nameservers: [LAB_GATEWAY] });
    expect(winner?.addresses[0]).toMatch(/^10\.77\.0\.1\d\d\/24$/);
    expect(other).toMatchObject({ name: 'eth0', method: 'skipped', ok: false });
    expect(run.console).toMatch(/Network ready in [\d.]+ s: eth1\n.*eth1: 10\.77\.0\.1\d\d\/24 via 10\.77\.0\.1, dns 10\.77\.0\.1 \(dhcp/);
    expect(readFileSync(`/etc/netns/${dut}/resolv.conf`, 'utf8')).toBe(`# written by ocinit\nsearch lab\nnameserver ${LAB_GATEWAY}\n`);
    expect(await addressesOf(dut, 'eth0')).toBe('');
    expect((await inNamespace(dut, ['ip', 'link', 'show', 'dev', 'eth1'])).stdout).toContain('mtu 1400');
    const routes = (await inNamespace(dut, ['ip', 'route', 'show', 'dev', 'eth1'])).stdout;
    expect(routes).toContain(`default via ${LAB_GATEWAY}`);
    expect(routes).toContain(`10.79.0.0/24 via ${LAB_GATEWAY}`);
    expect(await registryStatusFrom(dut)).toBe('200 registry/2.0');
    // Once, with a DHCP client running: the launcher evaluates the job's modules while the lease comes.
    expect(run.console.match(/WHILE LEASING/g)).toHaveLength(1);
    expect(run.console.indexOf('WHILE LEASING')).toBeGreaterThan(run.console.indexOf('$ busybox udhcpc'));
  });

  it('gets an IPv6 address by DHCPv6 where a server offers one, and leaves SLAAC to the kernel', async () => {
    const dut = await newDut([['eth0', 'lab0']]);
    const run = await bringUp(dut, {}, { dhcp6: 'wait' });
    expect(run.summary?.interfaces[0]).toMatchObject({ name: 'eth0', ok: true });
    expect(run.console).toMatch(/DHCPv6: eth0: fd77::1[0-9a-f]{2}\/128, dns fd77::1 \(lease 3600 s\)/);
    expect(await inNamespace(dut, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0'])).toMatchObject({ stdout: expect.stringMatching(/inet6 fd77::1[0-9a-f]{2}\/128/) });
    expect(readFileSync(`/etc/netns/${dut}/resolv.conf`, 'utf8')).toBe(`# written by ocinit\nsearch lab\nnameserver ${LAB_GATEWAY}\nnameserver fd77::1\n`);
    // The DHCPv6 /128 is global too and is there at once; the SLAAC /64 follows the next router
    // advertisement, so wait for that one, not for any global address.
    const slaac = /inet6 fd77::[0-9a-f:]+\/64/;
    let global = '';
    for (let i = 0; i < 150 && !slaac.test(global); i++) {
      global = (await inNamespace(dut, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'])).stdout;
      if (!slaac.test(global)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(global).toMatch(slaac);
  });

  it('applies exactly one lease when two NICs both get one', async () => {
    const dut = await newDut([['eth0', 'lab0'], ['eth1', 'lab0']]);
    const run = await bringUp(dut, {});
    const reports = run.summary?.interfaces ?? [];
    expect(reports.filter((report) => report.ok)).toHaveLength(1);
    const winner = reports.find((report) => report.ok)?.name ?? '';
    const loser = winner === 'eth0' ? 'eth1' : 'eth0';
    expect(reports.find((report) => report.name === loser)).toMatchObject({ method: 'skipped', ok: false });
    expect(await addressesOf(dut, winner)).toMatch(/inet 10\.77\.0\.1\d\d\/24/);
    expect(await addressesOf(dut, loser)).toBe('');
    expect((await inNamespace(dut, ['ip', 'route', 'show', 'default'])).stdout.trim().split('\n')).toEqual([`default via ${LAB_GATEWAY} dev ${winner}`]);
  });

  it('fails with what each interface saw when no DHCP server answers', async () => {
    const dut = await newDut([['eth0', 'lab1']]);
    const run = await bringUp(dut, {}, { timeoutMs: 2_000 });
    expect(run.summary).toBeUndefined();
    expect(run.error).toContain('network: no interface could be configured');
    expect(run.error).toMatch(/eth0 \(dhcp\): no DHCP lease \(udhcpc exit 1: udhcpc: no lease, failing\)/);
    expect(run.error).toContain('hint: check the cables');
  });

  it('says when a link never gets a carrier', async () => {
    const dut = await newDut([]);
    const peer = await lab.veth(dut, 'eth0', 'lab0');
    await lab.exec(['ip', 'link', 'set', peer, 'down']);
    const run = await bringUp(dut, {}, { carrierTimeoutMs: 500 });
    expect(run.error).toMatch(/eth0 \(dhcp\): no carrier within 0\.5 s/);
  });

  it('says the kernel sees no interface at all', async () => {
    const dut = await newDut([]);
    await lab.veth(dut, 'eth9', 'lab1');
    await inNamespace(dut, ['ip', 'link', 'delete', 'eth9']);
    const run = await bringUp(dut, {});
    expect(run.error).toContain('(no interface was tried)');
    expect(run.error).toContain('is the NIC driver in the initramfs');
  });

  it('also tries an interface that appears after the phase started (a USB NIC registering late)', async () => {
    const dut = await newDut([]);
    await lab.veth(dut, 'eth9', 'lab1');
    await inNamespace(dut, ['ip', 'link', 'delete', 'eth9']);
    const running = bringUp(dut, {}, { carrierTimeoutMs: 4_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await lab.veth(dut, 'usb0', 'lab0');
    const run = await running;
    expect(run.console).toContain('Network interfaces: none; candidates: none');
    expect(run.console).toContain('Network interface usb0 appeared: trying DHCP on it too');
    expect(run.summary?.interfaces[0]).toMatchObject({ name: 'usb0', method: 'dhcp', ok: true });
  });

  it('configures only the b2c.iface interfaces, statically, with a route and a nameserver', async () => {
    const dut = await newDut([['eth0', 'lab0'], ['eth1', 'lab1']]);
    const run = await bringUp(dut, {
      interfaces: [
        {
          name: 'eth1',
          mode: 'static',
          addresses: ['10.78.0.50/24'],
          nameservers: [SILENT_GATEWAY],
          routes: [{ destination: '10.77.0.0/24', via: SILENT_GATEWAY }],
          forward: true,
        },
      ],
    });
    expect(run.error).toBeUndefined();
    expect(run.summary?.interfaces).toEqual([expect.objectContaining({ name: 'eth1', method: 'static', ok: true, addresses: ['10.78.0.50/24'] })]);
    expect(await addressesOf(dut, 'eth1')).toContain('inet 10.78.0.50/24');
    expect(await addressesOf(dut, 'eth0')).toBe('');
    expect((await inNamespace(dut, ['cat', '/proc/sys/net/ipv4/conf/eth1/forwarding'])).stdout.trim()).toBe('1');
    expect((await inNamespace(dut, ['ip', 'route', 'show', '10.77.0.0/24'])).stdout).toContain(`via ${SILENT_GATEWAY} dev eth1`);
    expect(await registryStatusFrom(dut)).toBe('200 registry/2.0');
    expect(run.console).not.toContain('WHILE LEASING');
  });

  it('configures a static IPv6 b2c.iface with its default route and nameserver', async () => {
    const dut = await newDut([['eth0', 'lab0']]);
    const run = await bringUp(dut, {
      interfaces: [{ name: 'eth0', mode: 'static', addresses: ['fd77::50/64'], gateway: 'fd77::1', nameservers: ['fd77::1'], routes: [], forward: false }],
    });
    expect(run.summary?.interfaces[0]).toMatchObject({ name: 'eth0', ok: true, addresses: ['fd77::50/64'], gateway: 'fd77::1' });
    expect((await inNamespace(dut, ['ip', '-6', 'route', 'show', 'default'])).stdout).toContain('default via fd77::1 dev eth0');
    expect(readFileSync(`/etc/netns/${dut}/resolv.conf`, 'utf8')).toBe('# written by ocinit\nnameserver fd77::1\n');
    // The phase waited for duplicate address detection: the address works at once.
    // (An address SLAAC adds from a router advertisement arriving later may still be tentative: only ours matters.)
    expect((await inNamespace(dut, ['ip', '-6', 'addr', 'show', 'dev', 'eth0', 'tentative'])).stdout).not.toContain('fd77::50/64');
    expect((await inNamespace(dut, ['busybox', 'ping', '-6', '-c', '1', '-w', '2', 'fd77::1'])).code).toBe(0);
  });

  it('runs DHCP on a b2c.iface interface that asks for it, and names a missing one', async () => {
    const dut = await newDut([['eth0', 'lab0']]);
    const run = await bringUp(dut, {
      interfaces: [
        { name: 'eth0', mode: 'dhcp', addresses: [], nameservers: ['10.77.0.53'], routes: [], forward: false },
        { name: 'eth7', mode: 'static', addresses: ['10.9.9.9/24'], nameservers: [], routes: [], forward: false },
      ],
    });
    expect(run.summary?.interfaces[0]).toMatchObject({ name: 'eth0', method: 'dhcp', ok: true, nameservers: ['10.77.0.53', LAB_GATEWAY] });
    expect(run.summary?.interfaces[1]).toMatchObject({ name: 'eth7', ok: false, detail: 'no such interface (present: eth0)' });
    expect(run.console).toContain('eth7: no such interface (present: eth0)');
  });

  it('applies a static ip= to the named device with its gateway and DNS', async () => {
    const dut = await newDut([['eth0', 'lab1']]);
    const run = await bringUp(dut, {
      ip: { kind: 'static', client: '10.78.0.60', gateway: SILENT_GATEWAY, netmask: '255.255.255.0', device: 'eth0', nameservers: [SILENT_GATEWAY] },
    });
    expect(run.summary?.interfaces).toEqual([expect.objectContaining({ name: 'eth0', method: 'static', gateway: SILENT_GATEWAY })]);
    expect((await inNamespace(dut, ['ip', 'route', 'show', 'default'])).stdout).toContain(`default via ${SILENT_GATEWAY} dev eth0`);
    expect(await registryStatusFrom(dut)).toBe('200 registry/2.0');
  });

  it('gives a static ip= without a device to the interface that has a carrier', async () => {
    const dut = await newDut([]);
    const deadPeer = await lab.veth(dut, 'eth0', 'lab1');
    await lab.veth(dut, 'eth1', 'lab1');
    await lab.exec(['ip', 'link', 'set', deadPeer, 'down']);
    const run = await bringUp(dut, { ip: { kind: 'static', client: '10.78.0.61', netmask: '', nameservers: [] } });
    expect(run.summary?.interfaces).toEqual([expect.objectContaining({ name: 'eth1', ok: true, addresses: ['10.78.0.61/8'] })]);
  });

  it('fails a static ip= without a device when no interface gets a carrier', async () => {
    const dut = await newDut([]);
    const deadPeer = await lab.veth(dut, 'eth0', 'lab1');
    await lab.exec(['ip', 'link', 'set', deadPeer, 'down']);
    const run = await bringUp(dut, { ip: { kind: 'static', client: '10.78.0.62', netmask: '255.255.255.0', nameservers: [] } }, { carrierTimeoutMs: 500 });
    expect(run.error).toContain('eth0 (static): no carrier within 0.5 s');
    expect(run.error).toContain('parameter: ip');
  });

  it('leaves the network alone for ip=off and uses DHCP for ip=dhcp', async () => {
    const dut = await newDut([['eth0', 'lab0']]);
    const off = await bringUp(dut, { ip: { kind: 'off' } });
    expect(off.console).toContain('Network: off (ip=off)');
    expect(await addressesOf(dut, 'eth0')).toBe('');
    const dhcp = await bringUp(dut, { ip: { kind: 'dhcp' } });
    expect(dhcp.summary?.interfaces[0]).toMatchObject({ name: 'eth0', method: 'dhcp', ok: true });
    // Again, on the configured interface (same lease): applying is idempotent.
    const again = await bringUp(dut, { ip: { kind: 'dhcp' } });
    expect(again.summary?.interfaces[0]).toMatchObject({ name: 'eth0', ok: true, addresses: dhcp.summary?.interfaces[0]?.addresses });
  });
});

describe('NTP in the lab', () => {
  // The lab's chronyd serves the host's own clock, so the offset is tiny and nothing is stepped:
  // these tests can never change the host's clock (stepping is exercised in QEMU only).
  async function ntpFromLab(peer: string, attemptTimeoutMs: number): Promise<string> {
    const script = [
      `import { Logger } from '${repoRoot}src/log/logger.ts';`,
      `import { setClockFromNtp } from '${repoRoot}src/net/ntp.ts';`,
      `await setClockFromNtp({ kind: 'host', host: ${JSON.stringify(peer)} }, new Logger({ color: false }), { attemptTimeoutMs: ${attemptTimeoutMs} });`,
    ].join('\n');
    const { stdout } = await lab.exec([process.execPath, '--input-type=module', '-e', script]);
    return stdout;
  }

  it('asks the lab server and leaves a right clock alone', async () => {
    expect(await ntpFromLab(LAB_GATEWAY, 2_000)).toMatch(/NTP: clock is right \(offset -?0\.0\d\d s from 10\.77\.0\.1, stratum 8\)/);
  });

  it('gives up after its tries, keeps the clock and says so', async () => {
    const output = await ntpFromLab(SILENT_GATEWAY, 200);
    expect(output).toContain(`NTP: no time from ${SILENT_GATEWAY} after 3 tries, keeping the clock at`);
    expect(output).toContain(`(b2c.ntp_peer): no answer from ${SILENT_GATEWAY} within 200 ms\n`);
  });
});
