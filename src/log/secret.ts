import { inspect } from 'node:util';

const REDACTED = '***';
const knownSecretValues = new Set<string>();

/**
 * A credential (password, token, access key). It prints as `***` through every path Node offers
 * (String(), template literals, JSON.stringify, util.inspect, console.log), and its value is also
 * registered so the logger can scrub it from free text such as an error message that quoted a URL.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    // Very short values would scrub innocent text ("a", "1"): only register what can't be confused.
    if (value.length >= 4) knownSecretValues.add(value);
  }

  /** The real value: call this only where the credential is actually sent. */
  reveal(): string {
    return this.#value;
  }

  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Replaces every registered secret value in `text` with `***`. */
export function redact(text: string): string {
  let out = text;
  for (const value of knownSecretValues) {
    if (out.includes(value)) out = out.split(value).join(REDACTED);
  }
  return out;
}
