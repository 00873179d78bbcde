import { describe, expect, it } from 'vitest';
import { networkIntent } from '../../../src/net/intent.ts';
import type { InterfaceSpec } from '../../../src/net/types.ts';

const eth1: InterfaceSpec = { name: 'eth1', mode: 'static', addresses: ['10.0.0.2/24'], nameservers: [], routes: [], forward: false };

describe('networkIntent', () => {
  it('races DHCP on every candidate by default', () => {
    expect(networkIntent({ interfaces: [], ip: undefined })).toEqual({ kind: 'race', parameter: undefined });
  });

  it('configures only the b2c.iface interfaces, even when ip= is also given', () => {
    expect(networkIntent({ interfaces: [eth1], ip: { kind: 'off' } })).toEqual({ kind: 'explicit', parameter: 'b2c.iface', specs: [eth1] });
  });

  it('turns the network off for ip=off', () => {
    expect(networkIntent({ interfaces: [], ip: { kind: 'off' } }).kind).toBe('off');
  });

  it('races for ip=dhcp and targets one device for ip=:::::eth0:dhcp', () => {
    expect(networkIntent({ interfaces: [], ip: { kind: 'dhcp' } })).toEqual({ kind: 'race', parameter: 'ip' });
    expect(networkIntent({ interfaces: [], ip: { kind: 'dhcp', device: 'eth0' } })).toMatchObject({
      kind: 'explicit',
      specs: [{ name: 'eth0', mode: 'dhcp' }],
    });
  });

  it('turns a static ip= into a CIDR, a gateway and nameservers', () => {
    const intent = networkIntent({
      interfaces: [],
      ip: { kind: 'static', client: '10.5.0.9', gateway: '10.5.0.1', netmask: '255.255.0.0', device: 'eth0', nameservers: ['10.5.0.2'] },
    });
    expect(intent).toEqual({
      kind: 'explicit',
      parameter: 'ip',
      specs: [{ name: 'eth0', mode: 'static', addresses: ['10.5.0.9/16'], gateway: '10.5.0.1', nameservers: ['10.5.0.2'], routes: [], forward: false }],
    });
  });

  it('gives a static ip= without a device to the first interface with a carrier, classful mask when none', () => {
    const intent = networkIntent({ interfaces: [], ip: { kind: 'static', client: '192.168.3.4', netmask: '', nameservers: [] } });
    expect(intent).toMatchObject({ kind: 'static-first-carrier', spec: { addresses: ['192.168.3.4/24'], gateway: undefined } });
  });
});
