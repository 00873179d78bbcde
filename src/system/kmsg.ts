// The kernel log, read record by record from /dev/kmsg without blocking (drivers report missing
// firmware there, never to the process that loaded them).
import { closeSync, constants, openSync, readSync } from 'node:fs';

export interface KernelLogReader {
  /** The messages logged since the previous call (since boot on the first), text only. */
  readNew(): string[];
  close(): void;
}

export function openKernelLog(path = '/dev/kmsg'): KernelLogReader | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(8192);
  return {
    readNew() {
      const messages: string[] = [];
      for (;;) {
        let length: number;
        try {
          length = readSync(fd, buffer, 0, buffer.length, null);
        } catch (error) {
          // EPIPE: records were overwritten before we read them; the next read goes on after them.
          if (error instanceof Error && 'code' in error && error.code === 'EPIPE') continue;
          break;
        }
        if (length <= 0) break;
        // One record per read: "PRIORITY,SEQUENCE,MICROSECONDS,FLAGS;TEXT\n" then continuation lines.
        const record = buffer.toString('utf8', 0, length);
        const text = record.slice(record.indexOf(';') + 1).split('\n')[0];
        if (text !== undefined) messages.push(text);
      }
      return messages;
    },
    close() {
      closeSync(fd);
    },
  };
}
