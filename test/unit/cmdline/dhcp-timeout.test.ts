import { describe, expect, it } from 'vitest';
import { mergeExtraArgs, parseCommandLine } from '../../../src/cmdline/index.ts';

describe('b2c.dhcp_timeout', () => {
  it('defaults to 10 s like boot2container and takes whole or fractional seconds', () => {
    expect(parseCommandLine('').plan.dhcpTimeoutSeconds).toBe(10);
    expect(parseCommandLine('b2c.dhcp_timeout=30').plan.dhcpTimeoutSeconds).toBe(30);
    expect(parseCommandLine('b2c.dhcp_timeout=2.5').plan.dhcpTimeoutSeconds).toBe(2.5);
  });

  it('refuses values that are not a positive number of seconds', () => {
    for (const value of ['0', 'soon', '-1', '']) {
      const { problems } = parseCommandLine(`b2c.dhcp_timeout=${value}`);
      expect(problems.map((problem) => problem.parameter)).toEqual(['b2c.dhcp_timeout']);
    }
  });

  it('cannot change from the extra arguments, fetched after DHCP', () => {
    const merged = mergeExtraArgs(parseCommandLine('').plan, 'b2c.dhcp_timeout=30');
    expect(merged.tooLate.map((problem) => problem.parameter)).toEqual(['b2c.dhcp_timeout']);
    expect(merged.plan.dhcpTimeoutSeconds).toBe(10);
  });
});
