/** What an operator needs to act on a failure; every field is optional except the message. */
export interface ErrorContext {
  /** The kernel command line parameter involved, e.g. `b2c.container`. */
  parameter?: string;
  /** The image reference involved. */
  image?: string;
  /** The blob digest involved. */
  blob?: string;
  /** The URL involved (never with credentials in it). */
  url?: string;
  /** What the operator can do about it. */
  hint?: string;
  cause?: unknown;
}

/** Base class of every error ocinit raises on purpose. `describe()` is what the console shows. */
export class OcinitError extends Error {
  readonly parameter: string | undefined;
  readonly image: string | undefined;
  readonly blob: string | undefined;
  readonly url: string | undefined;
  readonly hint: string | undefined;

  constructor(message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.parameter = context.parameter;
    this.image = context.image;
    this.blob = context.blob;
    this.url = context.url;
    this.hint = context.hint;
  }

  /** One or more lines: the message, then each piece of context, then the hint. */
  describe(): string {
    const lines = [this.message];
    if (this.parameter !== undefined) lines.push(`  parameter: ${this.parameter}`);
    if (this.image !== undefined) lines.push(`  image: ${this.image}`);
    if (this.blob !== undefined) lines.push(`  blob: ${this.blob}`);
    if (this.url !== undefined) lines.push(`  url: ${this.url}`);
    if (this.hint !== undefined) lines.push(`  hint: ${this.hint}`);
    return lines.join('\n');
  }
}

/** The text to show for anything thrown: an OcinitError's description, else the message (and stack). */
export function describeError(error: unknown): string {
  if (error instanceof OcinitError) return error.describe();
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return `non-error value thrown: ${String(error)}`;
}
