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

/**
 * Base class of every error ocinit raises on purpose. `describe()` is what the console shows; `code`
 * is what code decides on (undici's `UND_ERR_*` are the model): stable across releases, unlike the
 * message, and one per class, so `error.code === 'OCINIT_DIGEST_MISMATCH'` holds across bundles
 * where `instanceof` may not.
 */
export class OcinitError extends Error {
  readonly code: string = 'OCINIT_ERROR';
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

/**
 * Whether `error` or an error in its `cause` chain carries `code` (`ENOSPC`, `UND_ERR_ABORTED`...):
 * how a decision looks through the wrapping an OcinitError adds, without reading messages.
 */
export function hasCode(error: unknown, code: string): boolean {
  const seen = new Set<unknown>();
  for (let current = error; typeof current === 'object' && current !== null && !seen.has(current); current = (current as { cause?: unknown }).cause) {
    seen.add(current);
    if ((current as { code?: unknown }).code === code) return true;
  }
  return false;
}

/** The text to show for anything thrown: an OcinitError's description, else the message (and stack). */
export function describeError(error: unknown): string {
  if (error instanceof OcinitError) return error.describe();
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return `non-error value thrown: ${String(error)}`;
}
