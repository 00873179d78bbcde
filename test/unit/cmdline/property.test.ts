import { describe, expect, it } from 'vitest';
import { formatPlan, formatProblem, mergeExtraArgs, parseCommandLine, PARAMETERS } from '../../../src/cmdline/index.ts';

/** mulberry32: a tiny seeded PRNG, so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = PARAMETERS.flatMap((definition) => [definition.name, ...definition.aliases]);
const PIECES = [
  '"', "'", '\\', '\\"', '=', ',', '|', ':', '/', ' ', '\t', '\n', '-', '--', '-v', '-e', '--env', '--mount', 'type=', 'docker://',
  'b2c.', 'b2c.x', '/dev/', '10.0.0.1', '::', '[', ']', '$', ';', '#', '*', 'mirror=', 'pull_on=', 'changes', '\u0000', 'é', '\u{1F600}',
];

function randomText(next: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    const roll = next();
    if (roll < 0.3) text += String.fromCharCode(Math.floor(next() * 256));
    else if (roll < 0.6) text += PIECES[Math.floor(next() * PIECES.length)] ?? '';
    else if (roll < 0.8) text += ` ${NAMES[Math.floor(next() * NAMES.length)] ?? ''}=`;
    else text += String.fromCharCode(0x20 + Math.floor(next() * 95));
  }
  return text;
}

describe('parseCommandLine on arbitrary input', () => {
  it('always returns a plan and lists, never throws (5000 seeded cases)', () => {
    for (let seed = 1; seed <= 5000; seed++) {
      const next = random(seed);
      const text = randomText(next, Math.floor(next() * 60));
      let result: ReturnType<typeof parseCommandLine> | undefined;
      try {
        result = parseCommandLine(text, { env: { HOME: '/root' } });
        for (const problem of [...result.problems, ...result.warnings]) {
          expect(typeof problem.parameter).toBe('string');
          expect(Number.isInteger(problem.position)).toBe(true);
          formatProblem(problem);
        }
        formatPlan(result.plan);
        JSON.stringify(result.plan);
        mergeExtraArgs(result.plan, randomText(next, 20), { env: {} });
      } catch (error) {
        throw new Error(`seed ${seed} threw on ${JSON.stringify(text)}: ${String(error)}`);
      }
      expect(Array.isArray(result.plan.containers)).toBe(true);
    }
    // ~3 s alone; the unit project runs beside QEMU boots in `make check`, where 10 s was seen to run out.
  }, 60_000);

  it('finds a problem in every container string made only of unsupported flags', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const next = random(seed);
      const flag = `--zz${Math.floor(next() * 1e6)}`;
      const result = parseCommandLine(`b2c.container="${flag} alpine"`, { env: {} });
      expect(result.problems.length, flag).toBe(1);
      expect(result.problems[0]?.message).toContain(flag);
    }
  });
});

describe('parseCommandLine on oversized input', () => {
  it('handles a megabyte-long unknown b2c.* key and value', () => {
    const huge = 'x'.repeat(1 << 20);
    const result = parseCommandLine(`b2c.${huge}=${huge} b2c.container="${huge}"`, { env: {} });
    expect(result.warnings[0]?.hint).toBe('see docs/cmdline.md for the parameters ocinit knows');
    expect(result.warnings[0]?.parameter.length).toBeLessThan(200);
    expect(result.warnings[0]?.message.length).toBeLessThan(600);
    expect(result.problems[0]?.message).toMatch(/invalid image reference/);
  });
});

describe('problem messages', () => {
  it('stay short when they quote a runaway value', () => {
    const [problem] = parseCommandLine(`b2c.poweroff_delay=${'9x'.repeat(5000)}`, { env: {} }).problems;
    expect(problem?.message.length).toBeLessThan(600);
    expect(problem?.message).toMatch(/… \(\d+ more characters\)$/);
  });
});
