import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/cmdline/index.ts';

function parse(line: string) {
  return parseCommandLine(line, { env: {} });
}

describe('b2c.cache_* parameters', () => {
  it('default to boot2container behaviour with a 10 s wait, no re-verification, digest-only offline runs and 10% free', () => {
    expect(parse('').plan.cache).toEqual({ auto: 'wipe', waitSeconds: 10, verify: false, offline: 'digest', minFree: { percent: 10 } });
  });

  it('parse each setting', () => {
    const { plan, problems } = parse('b2c.cache_auto=empty b2c.cache_wait=2.5 b2c.cache_verify b2c.cache_offline=always b2c.cache_min_free=20g');
    expect(problems).toEqual([]);
    expect(plan.cache).toEqual({ auto: 'empty', waitSeconds: 2.5, verify: true, offline: 'always', minFree: { bytes: 20 * 1024 ** 3 } });
    expect(parse('b2c.cache_min_free=15% b2c.cache_verify=false').plan.cache).toMatchObject({ minFree: { percent: 15 }, verify: false });
  });

  it('reject bad values naming the parameter, and keep the default', () => {
    for (const [word, parameter] of [
      ['b2c.cache_auto=all', 'b2c.cache_auto'],
      ['b2c.cache_wait=soon', 'b2c.cache_wait'],
      ['b2c.cache_offline=maybe', 'b2c.cache_offline'],
      ['b2c.cache_min_free=150%', 'b2c.cache_min_free'],
      ['b2c.cache_verify=perhaps', 'b2c.cache_verify'],
    ] as const) {
      const { plan, problems } = parse(word);
      expect(problems.map((problem) => problem.parameter)).toEqual([parameter]);
      expect(plan.cache).toEqual(parse('').plan.cache);
    }
  });
});
