import { describe, expect, it } from 'vitest';
import { invalid, valid } from './helpers.ts';

describe('ip=', () => {
  it('reads the short forms', () => {
    expect(valid('ip=dhcp').plan.ip).toEqual({ kind: 'dhcp' });
    expect(valid('ip=on').plan.ip).toEqual({ kind: 'dhcp' });
    expect(valid('ip=any').plan.ip).toEqual({ kind: 'dhcp' });
    expect(valid('ip=off').plan.ip).toEqual({ kind: 'off' });
    expect(valid('ip=none').plan.ip).toEqual({ kind: 'off' });
  });

  it('reads a full static configuration with both name servers', () => {
    expect(valid('ip=10.42.0.2:10.42.0.1:10.42.0.254:255.255.255.0:dut-1:eth0:off:10.42.0.1:1.1.1.1').plan.ip).toEqual({
      kind: 'static',
      client: '10.42.0.2',
      server: '10.42.0.1',
      gateway: '10.42.0.254',
      netmask: '255.255.255.0',
      hostname: 'dut-1',
      device: 'eth0',
      nameservers: ['10.42.0.1', '1.1.1.1'],
    });
  });

  it('leaves out empty fields and derives a classful netmask when none is given', () => {
    expect(valid('ip=192.168.1.5::192.168.1.1::::none').plan.ip).toEqual({
      kind: 'static',
      client: '192.168.1.5',
      gateway: '192.168.1.1',
      netmask: '255.255.255.0',
      nameservers: [],
    });
    expect(valid('ip=10.1.2.3').plan.ip).toMatchObject({ kind: 'static', netmask: '255.0.0.0' });
    expect(valid('ip=172.16.0.9').plan.ip).toMatchObject({ kind: 'static', netmask: '255.255.0.0' });
  });

  it('reads DHCP on one device from the autoconf field, or when no address is given', () => {
    expect(valid('ip=:::::eth1:dhcp').plan.ip).toEqual({ kind: 'dhcp', device: 'eth1' });
    expect(valid('ip=::::::bootp').plan.ip).toEqual({ kind: 'dhcp' });
    expect(valid('ip=:::::enp3s0').plan.ip).toEqual({ kind: 'dhcp', device: 'enp3s0' });
    expect(valid('ip=:::::eth0:off').plan.ip).toEqual({ kind: 'off' });
  });

  it('reports each bad field by name', () => {
    const messages = invalid('ip=10.0.0.300::10.0.0.1:255.0.255.0::eth0:sometimes').map((problem) => problem.message);
    expect(messages).toEqual([
      "client '10.0.0.300' is not an IPv4 address",
      "netmask '255.0.255.0' is not a dotted IPv4 netmask",
      "autoconf 'sometimes' is not off, none, on, any, dhcp, bootp or rarp",
    ]);
    expect(invalid('ip=1:2:3:4:5:6:7:8:9:10:11')[0]?.message).toMatch(/more than 10 fields/);
  });
});

describe('b2c.iface', () => {
  it('reads a static interface with every option, repeated ones accumulating', () => {
    const { plan } = valid(
      'b2c.iface=eth0,address=10.42.0.2/24,address=fd00::2/64,gateway=10.42.0.1,nameserver=10.42.0.1,nameserver=9.9.9.9,route=10.0.0.0/8:10.42.0.254,route=[fd01::/64]:[fd00::1],forward',
    );
    expect(plan.interfaces).toEqual([
      {
        name: 'eth0',
        mode: 'static',
        addresses: ['10.42.0.2/24', 'fd00::2/64'],
        gateway: '10.42.0.1',
        nameservers: ['10.42.0.1', '9.9.9.9'],
        routes: [
          { destination: '10.0.0.0/8', via: '10.42.0.254' },
          { destination: 'fd01::/64', via: 'fd00::1' },
        ],
        forward: true,
      },
    ]);
  });

  it('reads auto and dhcp as DHCP, and keeps interfaces in order', () => {
    const { plan } = valid('b2c.iface=eth1,auto b2c.iface=eth0,dhcp b2c.iface=lo');
    expect(plan.interfaces.map((iface) => [iface.name, iface.mode])).toEqual([
      ['eth1', 'dhcp'],
      ['eth0', 'dhcp'],
      ['lo', 'static'],
    ]);
  });

  it('refuses unknown options rather than ignoring them', () => {
    expect(invalid('b2c.iface=eth0,dhcp,mtu=9000').map((problem) => problem.message)).toEqual(["eth0: unknown option 'mtu'"]);
  });

  it('refuses bad names, addresses, gateways, name servers and routes', () => {
    const messages = invalid('b2c.iface=eth0,address=10.0.0.2,gateway=x,nameserver=dns.lan,route=10.0.0.0/8').map((problem) => problem.message);
    expect(messages).toEqual([
      'eth0: address=10.0.0.2 is not an address with a prefix length',
      'eth0: gateway=x is not an IP address',
      'eth0: nameserver=dns.lan is not an IP address',
      'eth0: route=10.0.0.0/8 is not NETWORK:GATEWAY',
    ]);
    expect(invalid('b2c.iface=,dhcp')[0]?.message).toMatch(/not a network interface name/);
    expect(invalid('b2c.iface=averyveryverylongname0')[0]?.message).toMatch(/not a network interface name/);
  });
});
