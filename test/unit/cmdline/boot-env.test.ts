import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootEnvironment, INIT_ENVIRONMENT, LAUNCHER_ENVIRONMENT } from '../../../src/cmdline/boot-env.ts';

describe('bootEnvironment', () => {
  it("is the kernel's NAME=VALUE words (not module parameters, nothing after --), then init's exports", () => {
    const env = bootEnvironment('console=ttyS0 b2c.hostname=x JOB="a b" TERM=vt100 HOME=/x flag CI_JOB_ID=1 CI_JOB_ID=2 MALLOC_ARENA_MAX=8 -- LATE=1');
    const exported = { HOME: '/root', PATH: INIT_ENVIRONMENT.PATH, MALLOC_ARENA_MAX: '1', NODE_OPTIONS: '--max-semi-space-size=1' };
    expect(env).toEqual({ console: 'ttyS0', JOB: 'a b', TERM: 'vt100', CI_JOB_ID: '2', ...exported });
    expect(bootEnvironment('')).toEqual({ TERM: 'linux', ...exported });
  });

  it("matches what initrd/init.sh exports before it starts the launcher", () => {
    const script = readFileSync(join(import.meta.dirname, '../../../initrd/init.sh'), 'utf8');
    for (const name of ['PATH', 'HOME'] as const) expect(script).toContain(`\nexport ${name}=${INIT_ENVIRONMENT[name] ?? ''}\n`);
    const launcher = Object.entries(LAUNCHER_ENVIRONMENT).map(([name, value]) => `${name}=${value}`);
    expect(script).toContain(`\nexport ${launcher.join(' ')} #`);
  });
});
