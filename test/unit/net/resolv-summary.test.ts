import { describe, expect, it } from 'vitest';
import { resolvConfText } from '../../../src/net/resolv.ts';
import { failureLines, summaryLines } from '../../../src/net/summary.ts';

describe('resolvConfText', () => {
  it('writes search domains and at most three distinct nameservers', () => {
    expect(resolvConfText(['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], ['lab', 'lab', 'farm'])).toBe(
      '# written by ocinit\nsearch lab farm\nnameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n',
    );
  });

  it('writes no search line without domains', () => {
    expect(resolvConfText(['1.1.1.1'], [])).toBe('# written by ocinit\nnameserver 1.1.1.1\n');
  });
});

describe('network summary', () => {
  it('reports each interface that came up with address, gateway, dns and time', () => {
    const lines = summaryLines({
      elapsedMs: 1234,
      nameservers: ['10.77.0.1'],
      searchDomains: [],
      interfaces: [
        { name: 'eth0', method: 'skipped', ok: false, addresses: [], nameservers: [], elapsedMs: 900, detail: 'eth1 answered first' },
        { name: 'eth1', method: 'dhcp', ok: true, addresses: ['10.77.0.57/24'], gateway: '10.77.0.1', nameservers: ['10.77.0.1'], elapsedMs: 850 },
      ],
    });
    expect(lines).toEqual(['Network ready in 1.23 s: eth1', '  eth1: 10.77.0.57/24 via 10.77.0.1, dns 10.77.0.1 (dhcp, 0.85 s)']);
  });

  it('says what each interface saw when the network failed', () => {
    expect(
      failureLines([
        { name: 'eth0', method: 'dhcp', ok: false, addresses: [], nameservers: [], elapsedMs: 5000, detail: 'no carrier' },
        { name: 'eth1', method: 'dhcp', ok: false, addresses: [], nameservers: [], elapsedMs: 10000, detail: 'no DHCP offer' },
      ]),
    ).toEqual(['  eth0 (dhcp): no carrier after 5.00 s', '  eth1 (dhcp): no DHCP offer after 10.00 s']);
    expect(failureLines([])).toEqual(['  (no interface was tried)']);
  });
});
