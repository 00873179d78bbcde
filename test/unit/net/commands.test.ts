import { describe, expect, it } from 'vitest';
import { staticArgs } from '../../../src/net/commands.ts';

describe('ip commands', () => {
  it('configures a static interface: link, addresses, default route, then extra routes', () => {
    expect(
      staticArgs({ name: 'eth1', addresses: ['10.0.0.2/24', 'fd00::2/64'], gateway: '10.0.0.1', routes: [{ destination: '192.168.0.0/16', via: '10.0.0.254' }] }),
    ).toEqual([
      ['link', 'set', 'dev', 'eth1', 'up'],
      ['addr', 'replace', '10.0.0.2/24', 'dev', 'eth1'],
      ['addr', 'replace', 'fd00::2/64', 'dev', 'eth1'],
      ['route', 'replace', 'default', 'via', '10.0.0.1', 'dev', 'eth1'],
      ['route', 'replace', '192.168.0.0/16', 'via', '10.0.0.254', 'dev', 'eth1'],
    ]);
  });
});
