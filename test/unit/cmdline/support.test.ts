import { describe, expect, it } from 'vitest';
import { runCmdline } from '../../../src/cli/cmdline.ts';
import { formatProblem, parseCommandLine } from '../../../src/cmdline/index.ts';
import { FEATURES, type FeatureId } from '../../../src/cmdline/support.ts';
import { ALL_FEATURES } from './helpers.ts';

/** One line per feature that uses it, and what the refusal must say. */
const USES: Record<FeatureId, { line: string; parameter: string; message: string }> = {
  's3-mirroring': {
    line: 'b2c.minio=gw,http://10.0.0.1:9000,ACCESS-S1,SECRET-S1 b2c.volume=results,mirror=gw/jobs,push_on=pipeline_end,exclude=*.o',
    parameter: 'b2c.minio',
    message: 'alias gw: b2c.minio needs S3 mirroring, which this ocinit does not support yet',
  },
  's3-encryption': {
    line: 'b2c.minio=gw,http://10.0.0.1:9000,ACCESS-S1,SECRET-S1 b2c.volume=results,mirror=gw/jobs,push_on=pipeline_end,encrypt_key=gw/jobs=KEY-S2-0123456789abcdefghijklmno',
    parameter: 'b2c.volume',
    message: 'volume results: encrypt_key= needs S3 server-side encryption, which this ocinit does not support yet',
  },
  fscrypt: {
    line: `b2c.volume=traces,fscrypt_key=${Buffer.alloc(64, 1).toString('base64')},fscrypt_reset_key`,
    parameter: 'b2c.volume',
    message: 'volume traces: fscrypt_key=, fscrypt_reset_key need fscrypt-encrypted volumes, which this ocinit does not support yet',
  },
  nbd: { line: 'b2c.nbd=/dev/nbd0,host=10.0.0.1,port=10809', parameter: 'b2c.nbd', message: '/dev/nbd0: b2c.nbd needs network block devices, which this ocinit does not support yet' },
  'additional-image-stores': {
    line: 'b2c.filesystem=images,src=10.0.0.1:/images,type=nfs b2c.storage=additionalimagestores=images',
    parameter: 'b2c.storage',
    message: 'b2c.storage needs additional image stores, which this ocinit does not support yet',
  },
  'verity-images': {
    line: 'b2c.image_format=erofs',
    parameter: 'b2c.image_format',
    message: 'b2c.image_format=erofs needs EROFS images on dm-verity, which this ocinit does not support yet',
  },
};

async function lint(line: string): Promise<{ status: number; stderr: string }> {
  let stderr = '';
  const status = await runCmdline(['--', line], { stdout: () => undefined, stderr: (text) => void (stderr += text) });
  return { status, stderr };
}

describe('what this build cannot honour', () => {
  for (const [id, use] of Object.entries(USES)) {
    const feature = FEATURES[id as FeatureId];
    it(`${id}: ${feature.supported ? 'accepted now that it is supported' : 'refused by the parser and the linter with the same words'}`, async () => {
      // The syntax itself is fine: with every feature, the line is valid.
      expect(parseCommandLine(use.line, { env: {}, features: ALL_FEATURES }).problems).toEqual([]);
      const { problems } = parseCommandLine(use.line, { env: {} });
      const refusals = problems.filter((problem) => problem.message.includes(feature.description));
      if (feature.supported) {
        expect(refusals).toEqual([]);
        return;
      }
      expect(refusals[0]).toMatchObject({ parameter: use.parameter, message: use.message, hint: feature.hint });
      const linted = await lint(use.line);
      expect(linted.status).toBe(1);
      // The boot logs formatProblem(problem) for each problem: the linter prints the very same text.
      for (const refusal of refusals) expect(linted.stderr).toContain(formatProblem(refusal));
      expect(linted.stderr).not.toMatch(/ACCESS-S1|SECRET-S1|KEY-S2/);
    });
  }

  it('names every mirroring option of a volume, and nothing a volume can do without S3', () => {
    const { problems } = parseCommandLine(
      'b2c.minio=gw,http://h:9000,A,B b2c.volume=v,pull_from=gw/a,push_to=gw/b,pull_on=pipeline_start,push_on=changes,overwrite,remove,preserve,exclude=x b2c.volume=local,expiration=pipeline_end',
      { env: {} },
    );
    const messages = problems.map((problem) => problem.message);
    if (FEATURES['s3-mirroring'].supported) return void expect(messages).toEqual([]);
    expect(messages).toEqual([
      'alias gw: b2c.minio needs S3 mirroring, which this ocinit does not support yet',
      'volume v: pull_from=, push_to=, pull_on=, push_on=, overwrite, remove, exclude=, preserve need S3 mirroring, which this ocinit does not support yet',
    ]);
  });
});
