import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ShutdownSettings } from '../cmdline/plan.ts';
import { shellQuote } from '../system/shell.ts';

/** Where the launcher tells PID 1 (initrd/init.sh) how to end the session. */
export const HANDOFF_FILE = '/run/ocinit/handoff';

export type EndAction =
  | { action: 'poweroff' }
  | { action: 'reboot' }
  | { action: 'switch_root'; newRoot: string; init: string; args?: readonly string[]; env?: readonly string[] };

export interface Handoff {
  end: EndAction;
  shutdown: ShutdownSettings;
  /** True once the launcher printed the final lines itself; PID 1 then only shuts down. */
  final: boolean;
  /** Why the session is ending early, shown by PID 1 if the launcher dies. */
  reason?: string;
}

function delayText(seconds: number): string {
  return Number.isFinite(seconds) && seconds > 0 ? String(Math.round(seconds * 1000) / 1000) : '0';
}

/** `key=value` lines that init.sh reads with `IFS== read`; newlines in values would split keys. */
export function formatHandoff(handoff: Handoff): string {
  const oneLine = (value: string): string => value.replace(/[\r\n]+/g, ' ');
  const command = handoff.end.action === 'reboot' ? handoff.shutdown.rebootCommand : handoff.shutdown.shutdownCommand;
  const lines = [
    `action=${handoff.end.action}`,
    // A plain decimal (0.5, never 5e-7) for busybox sleep; the parser only accepts such values.
    `delay=${delayText(handoff.shutdown.poweroffDelaySeconds)}`,
    `command=${oneLine(command)}`,
  ];
  if (handoff.end.action === 'switch_root') {
    lines.push(`newroot=${oneLine(handoff.end.newRoot)}`, `init=${oneLine(handoff.end.init)}`);
    // Words init.sh passes through `eval`: the init's arguments and its NAME=VALUE environment.
    const words = (list: readonly string[] | undefined): string => oneLine((list ?? []).map(shellQuote).join(' '));
    lines.push(`args=${words(handoff.end.args)}`, `env=${words(handoff.end.env)}`);
  }
  if (handoff.reason !== undefined) lines.push(`reason=${oneLine(handoff.reason)}`);
  if (handoff.final) lines.push('final=1');
  return `${lines.join('\n')}\n`;
}

/** Replaces the hand-off file atomically, so PID 1 never reads half of one. */
export function writeHandoff(handoff: Handoff, file = HANDOFF_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, formatHandoff(handoff));
  renameSync(temporary, file);
}
