import { describe, expect, it } from 'vitest';
import { formatProblem, mergeExtraArgs, parseCommandLine } from '../../../src/cmdline/index.ts';
import { ALL_FEATURES, valid } from './helpers.ts';

// The shape CI-tron and Mesa use: network-level settings on the kernel line, the rest (with secrets)
// in a file served to b2c.extra_args_url.
const KERNEL_LINE =
  'console=ttyS0,115200 b2c.cache_device=auto b2c.ntp_peer=10.42.0.1 b2c.extra_args_url=http://10.42.0.1:8000/job/b2c-extra-args ' +
  'b2c.volume="job-results,mirror=gateway/job,pull_on=pipeline_start,push_on=changes" b2c.container="-t docker://first:1" b2c.hostname=early';
const EXTRA_ARGS = `b2c.pipefail b2c.poweroff_delay=15
b2c.minio="gateway,http://10.42.0.1:9000,EXTRAACCESS,EXTRASECRET"
b2c.run="-ti docker://second:2 check" b2c.hostname=dut-7
`;

describe('mergeExtraArgs', () => {
  it('defers cross-references that the extra arguments may satisfy', () => {
    const result = valid(KERNEL_LINE);
    expect(result.warnings.map((warning) => warning.message)).toEqual([
      "volume job-results: no b2c.minio alias named 'gateway' is defined (yet: it may come from b2c.extra_args_url)",
    ]);
  });

  it('appends repeatable parameters and overrides single ones, like a second command line', () => {
    const initial = valid(KERNEL_LINE).plan;
    const merged = mergeExtraArgs(initial, EXTRA_ARGS, { env: {}, features: ALL_FEATURES });
    expect(merged.problems).toEqual([]);
    expect(merged.tooLate).toEqual([]);
    expect(merged.plan.containers.map((spec) => [spec.image, spec.index])).toEqual([
      ['first:1', 1],
      ['second:2', 2],
    ]);
    expect(merged.plan.pipefail).toBe(true);
    expect(merged.plan.shutdown.poweroffDelaySeconds).toBe(15);
    expect(merged.plan.hostname).toBe('dut-7');
    expect(merged.plan.minio.map((alias) => alias.alias)).toEqual(['gateway']);
    expect(merged.plan.cacheDevice).toEqual({ kind: 'auto' });
  });

  it('leaves the plan it was given unchanged', () => {
    const initial = valid(KERNEL_LINE).plan;
    const before = JSON.stringify(initial);
    mergeExtraArgs(initial, EXTRA_ARGS, { env: {}, features: ALL_FEATURES });
    expect(JSON.stringify(initial)).toBe(before);
  });

  it('reports parameters that act before the network as too late, and does not apply them', () => {
    const initial = valid(KERNEL_LINE).plan;
    const merged = mergeExtraArgs(
      initial,
      'b2c.insmods=x.ko b2c.cache_device=reset b2c.swap=4g b2c.iface=eth0,dhcp ip=dhcp b2c.ntp_peer=auto b2c.extra_args_url=http://x/more b2c.keymap=us',
      { env: {}, features: ALL_FEATURES },
    );
    expect(merged.tooLate.map((problem) => [problem.parameter, problem.position])).toEqual([
      ['b2c.insmods', 0],
      ['b2c.cache_device', 1],
      ['b2c.swap', 2],
      ['b2c.iface', 3],
      ['ip', 4],
      ['b2c.ntp_peer', 5],
      ['b2c.extra_args_url', 6],
    ]);
    expect(merged.plan.modules).toEqual([]);
    expect(merged.plan.cacheDevice).toEqual({ kind: 'auto' });
    expect(merged.plan.ntpPeer).toEqual({ kind: 'host', host: '10.42.0.1' });
    expect(merged.plan.keymap).toBe('us');
    expect(merged.tooLate[0]?.hint).toBe('move b2c.insmods to the kernel command line');
  });

  it('turns unresolved references into problems once nothing more can define them', () => {
    const initial = valid(KERNEL_LINE).plan;
    const merged = mergeExtraArgs(initial, 'b2c.pipefail', { env: {}, features: ALL_FEATURES });
    expect(merged.problems.map((problem) => [problem.parameter, problem.position, problem.origin])).toEqual([['b2c.volume', 4, undefined]]);
    expect(merged.problems[0]?.message).toBe("volume job-results: no b2c.minio alias named 'gateway' is defined");
  });

  it('marks problems found in the extra arguments as such', () => {
    const initial = valid(KERNEL_LINE).plan;
    const merged = mergeExtraArgs(initial, 'b2c.pipefail\nb2c.run="--bogus x"', { env: {}, features: ALL_FEATURES });
    const problem = merged.problems.find((candidate) => candidate.parameter === 'b2c.run');
    expect(problem?.origin).toBe('extra_args');
    expect(problem === undefined ? '' : formatProblem(problem)).toMatch(/^b2c\.run \(extra arguments, token 1\): b2c\.container #2: unsupported flag '--bogus'/);
  });

  it('warns about unknown b2c.* parameters in the extra arguments too', () => {
    const merged = mergeExtraArgs(parseCommandLine('', { env: {}, features: ALL_FEATURES }).plan, 'b2c.pipefial', { env: {}, features: ALL_FEATURES });
    expect(merged.warnings[0]).toMatchObject({ parameter: 'b2c.pipefial', position: 0, origin: 'extra_args' });
  });
});
