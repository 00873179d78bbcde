import { describe, expect, it } from 'vitest';
import { classfulPrefix, netmaskToPrefix, parseCidr, parseIpv4 } from '../../../src/net/ipv4.ts';

describe('ipv4', () => {
  it('parses dotted quads and rejects anything else', () => {
    expect(parseIpv4('10.0.2.15')).toBe(0x0a00020f);
    expect(parseIpv4('256.0.0.1')).toBeUndefined();
    expect(parseIpv4('10.0.2')).toBeUndefined();
    expect(parseIpv4('fd00::1')).toBeUndefined();
  });

  it('turns netmasks into prefix lengths and refuses holes', () => {
    expect(netmaskToPrefix('255.255.255.0')).toBe(24);
    expect(netmaskToPrefix('255.255.240.0')).toBe(20);
    expect(netmaskToPrefix('255.255.255.255')).toBe(32);
    expect(netmaskToPrefix('0.0.0.0')).toBe(0);
    expect(netmaskToPrefix('255.0.255.0')).toBeUndefined();
    expect(netmaskToPrefix('banana')).toBeUndefined();
  });

  it('falls back to the address class like the kernel does for ip= without a netmask', () => {
    expect(classfulPrefix('10.1.2.3')).toBe(8);
    expect(classfulPrefix('172.16.0.9')).toBe(16);
    expect(classfulPrefix('192.168.1.2')).toBe(24);
  });

  it('splits CIDR notation', () => {
    expect(parseCidr('10.0.0.5/24')).toEqual({ address: '10.0.0.5', prefixLength: 24 });
    expect(parseCidr('10.0.0.5/33')).toBeUndefined();
    expect(parseCidr('10.0.0.5')).toBeUndefined();
    expect(parseCidr('10.0.0.5/24/1')).toBeUndefined();
  });
});
