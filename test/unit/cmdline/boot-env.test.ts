import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootEnvironment, INIT_ENVIRONMENT } from '../../../src/cmdline/boot-env.ts';

describe('bootEnvironment', () => {
  it("is the kernel's NAME=VALUE words (not module parameters, nothing after --), then init's exports", () => {
    const env = bootEnvironment('console=ttyS0 b2c.hostname=x JOB="a b" TERM=vt100 HOME=/x flag CI_JOB_ID=1 CI_JOB_ID=2 -- LATE=1');
    expect(env).toEqual({ console: 'ttyS0', JOB: 'a b', TERM: 'vt100', CI_JOB_ID: '2', HOME: '/root', PATH: INIT_ENVIRONMENT.PATH });
    expect(bootEnvironment('')).toEqual({ TERM: 'linux', HOME: '/root', PATH: INIT_ENVIRONMENT.PATH });
  });

  it("matches what initrd/init.sh exports before it starts the launcher", () => {
    const script = readFileSync(join(import.meta.dirname, '../../../initrd/init.sh'), 'utf8');
    for (const name of ['PATH', 'HOME'] as const) expect(script).toContain(`\nexport ${name}=${INIT_ENVIRONMENT[name] ?? ''}\n`);
  });
});
