// What bench/boot-vs-podman reads off each boot's console, seconds of guest uptime (the kernel's
// clock): the comparator's podman-initrd markers (bench/podman-initrd/init.sh) and ocinit's own lines.

export interface BootMarks {
  /** Comparator: its /init's first line; ocinit: the launcher's first line. */
  start: number;
  networkReady: number;
  pipelineEnd: number;
  status: number;
}

function mark(text: string, pattern: RegExp, what: string): RegExpExecArray {
  const found = pattern.exec(text);
  if (found === null) throw new Error(`the console has no ${what} (${pattern}):\n${text.slice(-3000)}`);
  return found;
}

const seconds = (found: RegExpExecArray): number => Number.parseFloat(found[1] ?? 'NaN');

export function comparatorMarks(text: string): BootMarks {
  if (/podman-initrd: network-failed at/.test(text)) throw new Error(`the comparator's udhcpc got no lease:\n${text.slice(-3000)}`);
  const end = mark(text, /podman-initrd: pipeline-end at (\d+\.\d+) status (\d+)/, "comparator's pipeline end");
  return {
    start: seconds(mark(text, /podman-initrd: init at (\d+\.\d+)/, "comparator's /init marker")),
    networkReady: seconds(mark(text, /podman-initrd: network-ready at (\d+\.\d+)/, "comparator's network-ready marker")),
    pipelineEnd: seconds(end),
    status: Number.parseInt(end[2] ?? 'NaN', 10),
  };
}

export function ocinitMarks(text: string): BootMarks {
  const end = mark(text, /\[(\d+\.\d+)\]: Execution is over, pipeline status: (\d+)/, "ocinit's status line");
  return {
    start: seconds(mark(text, /\[(\d+\.\d+)\]: ocinit \S+: launcher started/, "ocinit's launcher line")),
    networkReady: seconds(mark(text, /\[(\d+\.\d+)\]: Network ready in/, "ocinit's network-ready line")),
    pipelineEnd: seconds(end),
    status: Number.parseInt(end[2] ?? 'NaN', 10),
  };
}
