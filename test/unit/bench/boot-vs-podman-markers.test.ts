import { describe, expect, it } from 'vitest';
import { comparatorMarks, ocinitMarks } from '../../../bench/boot-vs-podman-markers.ts';

describe('bench/boot-vs-podman console markers', () => {
  it('reads the comparator initramfs markers', () => {
    const text = [
      '[    8.512345] Run /init as init process',
      'podman-initrd: init at 8.80',
      'udhcpc: lease of 10.0.2.15 obtained from 10.0.2.2, lease time 86400',
      'podman-initrd: network-ready at 10.74',
      'Trying to pull 10.0.2.2:5000/bench/demo:latest...',
      '27.41 0.52',
      'podman-initrd: pipeline-end at 27.70 status 0',
    ].join('\r\n');
    expect(comparatorMarks(text)).toEqual({ start: 8.8, networkReady: 10.74, pipelineEnd: 27.7, status: 0 });
  });

  it('keeps the job status and refuses a boot whose DHCP failed or that never ended', () => {
    expect(comparatorMarks('podman-initrd: init at 1.00\npodman-initrd: network-ready at 2.00\npodman-initrd: pipeline-end at 3.00 status 125\n').status).toBe(125);
    expect(() => comparatorMarks('podman-initrd: init at 1.00\npodman-initrd: network-failed at 9.00\npodman-initrd: pipeline-end at 9.50 status 125\n')).toThrow(/no lease/);
    expect(() => comparatorMarks('podman-initrd: init at 1.00\npodman-initrd: network-ready at 2.00\n')).toThrow(/pipeline end/);
  });

  it("reads ocinit's launcher, network and status lines", () => {
    const text = [
      '[14.30]: ocinit 0.1.0: launcher started',
      '\x1b[0K[26.72]: Network ready in 3.10 s: eth0',
      '[37.44]: Execution is over, pipeline status: 0',
    ].join('\n');
    expect(ocinitMarks(text)).toEqual({ start: 14.3, networkReady: 26.72, pipelineEnd: 37.44, status: 0 });
    expect(() => ocinitMarks('[14.30]: ocinit 0.1.0: launcher started\n')).toThrow(/status line/);
  });
});
