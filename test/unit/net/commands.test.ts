import { describe, expect, it } from 'vitest';
import { leaseArgs, staticArgs } from '../../../src/net/commands.ts';
import type { Lease } from '../../../src/net/types.ts';

const lease: Lease = {
  interface: 'eth0',
  address: '10.77.0.57',
  prefixLength: 24,
  routers: ['10.77.0.1'],
  nameservers: ['10.77.0.1'],
  domains: [],
  mtu: 1400,
  routes: [],
};

describe('ip commands', () => {
  it('configures a static interface: link, addresses, default route, then extra routes', () => {
    expect(
      staticArgs({ name: 'eth1', addresses: ['10.0.0.2/24', 'fd00::2/64'], gateway: '10.0.0.1', routes: [{ destination: '192.168.0.0/16', via: '10.0.0.254' }] }),
    ).toEqual([
      ['link', 'set', 'dev', 'eth1', 'up'],
      ['addr', 'add', '10.0.0.2/24', 'dev', 'eth1'],
      ['addr', 'add', 'fd00::2/64', 'dev', 'eth1'],
      ['route', 'replace', 'default', 'via', '10.0.0.1', 'dev', 'eth1'],
      ['route', 'replace', '192.168.0.0/16', 'via', '10.0.0.254', 'dev', 'eth1'],
    ]);
  });

  it('applies a lease with its MTU and the first router as default route', () => {
    expect(leaseArgs(lease)).toEqual([
      ['link', 'set', 'dev', 'eth0', 'up'],
      ['link', 'set', 'dev', 'eth0', 'mtu', '1400'],
      ['addr', 'add', '10.77.0.57/24', 'dev', 'eth0'],
      ['route', 'replace', 'default', 'via', '10.77.0.1', 'dev', 'eth0'],
    ]);
  });

  it('prefers classless static routes over the router option (RFC 3442)', () => {
    const args = leaseArgs({ ...lease, mtu: undefined, routes: [{ destination: '0.0.0.0/0', via: '10.77.0.9' }, { destination: '10.9.0.0/16', via: '10.77.0.8' }] });
    expect(args.slice(2)).toEqual([
      ['route', 'replace', 'default', 'via', '10.77.0.9', 'dev', 'eth0'],
      ['route', 'replace', '10.9.0.0/16', 'via', '10.77.0.8', 'dev', 'eth0'],
    ]);
  });
});
