import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatPlan, formatProblem, parseCommandLine } from '../../../src/cmdline/index.ts';
import { redact } from '../../../src/log/secret.ts';
import { ALL_FEATURES } from './helpers.ts';

const FSCRYPT = Buffer.from('fscrypt-key-material-that-is-secret-0123456789').toString('base64');
const LINE = [
  'b2c.minio="gateway,http://10.42.0.1:9000,MINIO-ACCESS-4242,MINIO-SECRET-4242"',
  `b2c.volume="v,mirror=gateway/b,pull_on=pipeline_start,push_on=pipeline_end,encrypt_key=gateway/b=ENCRYPT-KEY-4242-0123456789abcde,fscrypt_key=${FSCRYPT}"`,
  `b2c.container="--creds ci-bot:REGISTRY-PASS-4242 -t docker://registry.example.com/private/image:1 run"`,
  `b2c.service="--creds 'svc:SERVICE PASS 4242' docker://registry.example.com/svc:1"`,
].join(' ');
const SECRETS = ['MINIO-ACCESS-4242', 'MINIO-SECRET-4242', 'ENCRYPT-KEY-4242', Buffer.from('ENCRYPT-KEY-4242-0123456789abcde').toString('base64'), FSCRYPT, 'REGISTRY-PASS-4242', 'SERVICE PASS 4242'];

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('secrets on the command line', () => {
  const result = parseCommandLine(LINE, { env: {}, features: ALL_FEATURES });

  it('are parsed and available to the code that sends them', () => {
    expect(result.problems).toEqual([]);
    expect(result.plan.minio[0]?.secretKey.reveal()).toBe('MINIO-SECRET-4242');
    expect(result.plan.containers[0]?.creds?.password.reveal()).toBe('REGISTRY-PASS-4242');
    expect(result.plan.services[0]?.creds?.password.reveal()).toBe('SERVICE PASS 4242');
  });

  it('never appear in JSON, util.inspect or the human-readable plan', () => {
    expectNoSecret(JSON.stringify(result.plan));
    expectNoSecret(inspect(result.plan, { depth: null }));
    expectNoSecret(formatPlan(result.plan));
    expect(JSON.stringify(result.plan)).toContain('***');
  });

  it('are masked in the container source string, however they were quoted', () => {
    expect(result.plan.containers[0]?.source).toBe('--creds ci-bot:*** -t docker://registry.example.com/private/image:1 run');
    expectNoSecret(result.plan.services[0]?.source ?? '');
  });

  it('never appear in problems about the values that hold them', () => {
    const bad = parseCommandLine(
      'b2c.minio="gateway,ftp://x,MINIO-ACCESS-4242,MINIO-SECRET-4242" b2c.minio="a,b,MINIO-SECRET-4242" b2c.volume="v,fscrypt_key=MINIO-SECRET-4242*"',
      { env: {}, features: ALL_FEATURES },
    );
    expect(bad.problems.length).toBe(3);
    expectNoSecret(bad.problems.map(formatProblem).join('\n'));
  });

  it('in URLs (user:password@) are registered for redaction wherever the URL is printed', () => {
    const { plan } = parseCommandLine(
      'b2c.extra_args_url=https://farm:URL-PASS-4242@10.0.0.1/args b2c.proxy="https=http://proxy:PROXY%20PASS-4242@10.0.0.1:3128" b2c.minio=gw,http://u:MINIO-URL-PASS-42@10.0.0.1:9000,A,B',
      { env: {}, features: ALL_FEATURES },
    );
    const printed = redact(`${JSON.stringify(plan)}\n${formatPlan(plan)}`);
    for (const secret of ['URL-PASS-4242', 'PROXY%20PASS-4242', 'PROXY PASS-4242', 'MINIO-URL-PASS-42']) expect(printed).not.toContain(secret);
    expect(printed).toContain('https://farm:***@10.0.0.1/args');
  });

  it('are registered so that the logger scrubs them from free text', () => {
    expect(redact('pulling with MINIO-SECRET-4242 and REGISTRY-PASS-4242')).toBe('pulling with *** and ***');
  });
});
