import { writeSync } from 'node:fs';
import { redact } from './secret.ts';

const ESC = '\x1b';
const RED = `${ESC}[31m`;
const YELLOW = `${ESC}[33m`;
const RESET = `${ESC}[0m`;

export type LogSink = (text: string) => void;

/** Writes synchronously to stdout so that nothing is lost if the process dies right after. */
const stdoutSink: LogSink = (text) => {
  let buffer = Buffer.from(text);
  while (buffer.length > 0) {
    try {
      const written = writeSync(1, buffer);
      buffer = buffer.subarray(written);
    } catch (error) {
      // A non-blocking stdout (a pipe in tests) can say EAGAIN: retry; anything else ends the line.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
};

/**
 * Seconds since boot. CLOCK_MONOTONIC starts at boot and matches /proc/uptime and the kernel's
 * own timestamps until a suspend, and needs no /proc: the launcher logs before mounting it.
 */
export function uptimeSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export interface LoggerOptions {
  sink?: LogSink;
  clock?: () => number;
  /** Unix time in seconds, for GitLab section markers. */
  wallClock?: () => number;
  color?: boolean;
}

/**
 * The one logger. boot2container's console conventions, which farms parse:
 * `[<seconds since boot>]: message` on every line, GitLab CI collapsible sections around phases.
 * Every line goes through `redact()` so registered secrets never reach the console.
 */
export class Logger {
  readonly #sink: LogSink;
  readonly #clock: () => number;
  readonly #wallClock: () => number;
  readonly #color: boolean;

  constructor(options: LoggerOptions = {}) {
    this.#sink = options.sink ?? stdoutSink;
    this.#clock = options.clock ?? uptimeSeconds;
    this.#wallClock = options.wallClock ?? (() => Math.floor(Date.now() / 1000));
    this.#color = options.color ?? true;
  }

  /** Seconds since boot, as printed in line prefixes. */
  now(): number {
    return this.#clock();
  }

  info(message: string): void {
    this.#lines(message, '', '');
  }

  warn(message: string): void {
    this.#lines(message, this.#color ? YELLOW : '', this.#color ? RESET : '');
  }

  error(message: string): void {
    this.#lines(message, this.#color ? RED : '', this.#color ? RESET : '');
  }

  /** Raw text, no prefix (a container's own output already on the console, progress bars). */
  raw(text: string): void {
    this.#sink(redact(text));
  }

  sectionStart(name: string, title: string, options: { collapsed?: boolean } = {}): void {
    const collapsed = (options.collapsed ?? true) ? '[collapsed=true]' : '';
    this.#sink(`${ESC}[0Ksection_start:${this.#wallClock()}:${name}${collapsed}\r${ESC}[0K`);
    this.info(title);
  }

  sectionEnd(name: string): void {
    this.#sink(`${ESC}[0Ksection_end:${this.#wallClock()}:${name}\r${ESC}[0K`);
  }

  /** Runs `body` inside a section; the section is closed even when `body` throws. */
  async section<T>(name: string, title: string, body: () => Promise<T>, options: { collapsed?: boolean } = {}): Promise<T> {
    this.sectionStart(name, title, options);
    try {
      return await body();
    } finally {
      this.sectionEnd(name);
    }
  }

  #lines(message: string, before: string, after: string): void {
    const prefix = `[${this.#clock().toFixed(3)}]: `;
    const text = redact(message)
      .split('\n')
      .map((line) => `${prefix}${before}${line}${after}\n`)
      .join('');
    this.#sink(text);
  }
}

/** The process-wide logger used by the launcher and the CLI. */
export const log = new Logger();
