import { describe, expect, it } from 'vitest';
import { parseLeaseOutput } from '../../../src/net/lease.ts';

const bound = [
  'udhcpc: sending discover',
  'ocinit-lease begin',
  'ocinit-lease interface=eth1',
  'ocinit-lease ip=10.77.0.57',
  'ocinit-lease subnet=255.255.255.0',
  'ocinit-lease router=10.77.0.1 10.77.0.254',
  'ocinit-lease dns=10.77.0.1 10.77.0.2',
  'ocinit-lease domain=lab.example',
  'ocinit-lease search=lab.example farm.example',
  'ocinit-lease mtu=1400',
  'ocinit-lease lease=3600',
  'ocinit-lease serverid=10.77.0.1',
  'ocinit-lease applied=1',
  '',
].join('\n');

describe('parseLeaseOutput', () => {
  it('reads every field the udhcpc script reports', () => {
    expect(parseLeaseOutput(bound)).toEqual({
      interface: 'eth1',
      address: '10.77.0.57',
      prefixLength: 24,
      routers: ['10.77.0.1', '10.77.0.254'],
      nameservers: ['10.77.0.1', '10.77.0.2'],
      domains: ['lab.example', 'farm.example'],
      mtu: 1400,
      routes: [],
      leaseSeconds: 3600,
      server: '10.77.0.1',
      applied: 'yes',
    });
  });

  it('says whether the script applied the lease, lost the race for it, or failed to apply it', () => {
    const lease = (applied: string): string => `ocinit-lease begin\nocinit-lease interface=eth0\nocinit-lease ip=10.0.0.2\n${applied}`;
    expect(parseLeaseOutput(lease('ocinit-lease applied=0\n'))?.applied).toBe('no');
    expect(parseLeaseOutput(lease('ocinit-lease applied=failed\n'))?.applied).toBe('failed');
    expect(parseLeaseOutput(lease(''))?.applied).toBe('failed');
  });

  it('is undefined when udhcpc got no lease', () => {
    expect(parseLeaseOutput('udhcpc: sending discover\nudhcpc: no lease, failing\n')).toBeUndefined();
  });

  it('keeps the last lease when the script ran more than once', () => {
    const renewed = `${bound}ocinit-lease begin\nocinit-lease interface=eth1\nocinit-lease ip=10.77.0.60\n`;
    expect(parseLeaseOutput(renewed)).toMatchObject({ address: '10.77.0.60', prefixLength: 32, routers: [] });
  });

  it('drops malformed optional fields instead of failing', () => {
    const odd = 'ocinit-lease begin\nocinit-lease interface=eth0\nocinit-lease ip=10.0.0.2\nocinit-lease mtu=12\nocinit-lease router=nope\n';
    expect(parseLeaseOutput(odd)).toMatchObject({ address: '10.0.0.2', mtu: undefined, routers: [] });
  });

  it('refuses a lease without a valid address', () => {
    expect(parseLeaseOutput('ocinit-lease begin\nocinit-lease interface=eth0\nocinit-lease ip=300.1.1.1\n')).toBeUndefined();
  });

  it('reads classless static routes in pairs', () => {
    const text = 'ocinit-lease begin\nocinit-lease interface=eth0\nocinit-lease ip=10.0.0.2\nocinit-lease staticroutes=0.0.0.0/0 10.0.0.1 192.168.7.0/24 10.0.0.9 junk\n';
    expect(parseLeaseOutput(text)?.routes).toEqual([
      { destination: '0.0.0.0/0', via: '10.0.0.1' },
      { destination: '192.168.7.0/24', via: '10.0.0.9' },
    ]);
  });
});
