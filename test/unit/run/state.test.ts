import { describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../../src/cmdline/plan.ts';
import { mergeEnvironment, parseEnvFile, parseEnvList } from '../../../src/run/env.ts';
import { PipelineState } from '../../../src/run/state.ts';
import { formatSummary, parseSummary, type RunSummary } from '../../../src/run/summary.ts';

const spec = (parameter: ContainerSpec['parameter'], source: string): ContainerSpec => ({ parameter, source }) as ContainerSpec;
const vars = (state: PipelineState): Record<string, string> => Object.fromEntries(state.environment().map(({ name, value }) => [name, value]));

describe('PipelineState', () => {
  it('the first failing b2c.container sets the status; later ones and post containers do not', () => {
    const state = new PipelineState();
    expect(vars(state)).toEqual({ B2C_PIPELINE_STATUS: '0', B2C_PIPELINE_FAILED_BY: '', B2C_PIPELINE_PREV_CONTAINER: '', B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE: '', B2C_PIPELINE_SHUTDOWN_MODE: 'default' });
    state.record(spec('b2c.container', 'a'), 0);
    state.record(spec('b2c.container', 'b'), 2);
    state.record(spec('b2c.container', 'c'), 9);
    state.record(spec('b2c.post_container', 'd'), 7);
    expect(vars(state)).toMatchObject({ B2C_PIPELINE_STATUS: '2', B2C_PIPELINE_FAILED_BY: 'b', B2C_PIPELINE_PREV_CONTAINER: 'd', B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE: '7' });
  });

  it('129 and 130 set the shutdown mode and are the status like any exit code, as in b2c; ocinit reads them as passed', () => {
    const state = new PipelineState();
    expect(state.shutdownMode).toBe('default');
    expect(state.end).toBe('poweroff');
    state.record(spec('b2c.container', 'a'), 129);
    expect(state.status).toBe(129);
    expect(state.failedBy).toBe('a');
    expect(state.shutdownMode).toBe('reboot');
    expect(state.end).toBe('reboot');
    expect(state.failedOtherwise).toBe(false);
    state.record(spec('b2c.post_container', 'b'), 130);
    expect(state.shutdownMode).toBe('poweroff');
    expect(state.status).toBe(129);
    state.record(spec('b2c.container', 'c'), 2);
    expect(state.status).toBe(129);
    expect(state.failedOtherwise).toBe(true);
  });

  it('a turn can count as another status than its exit code (a failing container_end hook is 1)', () => {
    const state = new PipelineState();
    state.record(spec('b2c.container', 'a'), 129, 1);
    expect(vars(state)).toMatchObject({ B2C_PIPELINE_STATUS: '1', B2C_PIPELINE_PREV_CONTAINER_EXIT_CODE: '129', B2C_PIPELINE_SHUTDOWN_MODE: 'reboot' });
    expect(state.failedOtherwise).toBe(true);
  });

  it('a pipeline failure sets the status only when none is set, and is never a pass', () => {
    const state = new PipelineState();
    state.record(spec('b2c.container', 'a'), 130);
    state.fail(1, 'Pipeline-end hooks');
    expect(state.status).toBe(130);
    expect(state.failedOtherwise).toBe(true);
  });
});

describe('environment', () => {
  it('env files: comments, blank lines, values with = and spaces, bare names from the launcher', () => {
    expect(parseEnvFile('# c\n\nA=1=2\nB= spaced \r\nFROM_HOST\nMISSING\n', { FROM_HOST: 'h' })).toEqual([
      { name: 'A', value: '1=2' },
      { name: 'B', value: ' spaced ' },
      { name: 'FROM_HOST', value: 'h' },
    ]);
  });

  it('later layers win and keep the first position', () => {
    expect(mergeEnvironment(parseEnvList(['PATH=/bin', 'A=image', 'bad']), [{ name: 'A', value: 'flag' }])).toEqual(['PATH=/bin', 'A=flag']);
  });
});

describe('summary line', () => {
  it('round-trips through a console transcript with section markers around it', () => {
    const summary: RunSummary = {
      version: 2,
      status: 3,
      outcome: 'failed',
      end: 'reboot',
      phases: [{ name: 'pull', start: 12.34567, duration: 1.00049 }],
      containers: [{ parameter: 'b2c.container', index: 1, image: 'r/i:1', digest: 'sha256:ab', cached: true, outcome: 'exited', exitCode: 3, start: 13.3456, duration: 0.5 }],
      notices: ['REGISTRY UNREACHABLE: ran r/i:1 from the cache'],
    };
    const line = formatSummary(summary);
    expect(line.startsWith('ocinit-summary: {')).toBe(true);
    expect(line).not.toContain('\n');
    const transcript = `\u001b[0Ksection_end:1:x\r\u001b[0K[19.1]: ${line}\r\n[19.2]: Execution is over, pipeline status: 3\n`;
    expect(parseSummary(transcript)).toEqual({ ...summary, phases: [{ name: 'pull', start: 12.346, duration: 1 }], containers: [{ ...summary.containers[0], start: 13.346 }] });
    expect(parseSummary('no summary here')).toBeUndefined();
  });
});
