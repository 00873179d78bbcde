/** The environment `$NAME` expands from: the launcher's at boot (the kernel's unknown `NAME=VALUE` words and /init's). */
export type ShellEnvironment = Readonly<Record<string, string | undefined>>;

export type ShellWordsResult =
  | {
      ok: true;
      words: string[];
      /** Variables the string names that the environment does not set (they expanded to nothing), in order. */
      unset: string[];
    }
  | { ok: false; message: string; hint: string };

const BLANKS = new Set([' ', '\t', '\n', '\r']);
// The shell's default IFS: what an unquoted expansion is split on.
const IFS = /[ \t\n]+/;
// boot2container evaluates container strings with `eval`, so these would have been shell syntax.
const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')', '`']);
// Inside double quotes, a backslash only escapes these.
const DOUBLE_QUOTE_ESCAPES = new Set(['$', '`', '"', '\\', '\n']);
const NAME_START = /[A-Za-z_]/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
// $1, $?, $$ ...: init's own positional and special parameters, which mean nothing to a job.
const SPECIAL_PARAMETER = /[0-9?$#!@*-]/;

/** Part of a word: literal text, or the value of an unquoted expansion (split into fields later). */
interface Piece {
  text: string;
  split: boolean;
}

class ShellSyntaxError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.hint = hint;
  }
}

/**
 * POSIX sh reading of a container string, the way boot2container's `eval` saw it: single quotes
 * are literal, double quotes group words and honour \$ \` \" \\, an unquoted backslash escapes the
 * next character, and `$NAME` / `${NAME}` expand from `env` (inside double quotes as one piece;
 * unquoted, split into words on blanks, an empty one vanishing, as sh does). Names `env` lacks
 * expand to nothing and are listed in `unset`. No pathname expansion (`*` stays literal: the
 * initramfs's files are not what a job means), and what would have run commands at the launcher
 * (`$(...)`, backquotes, operators) is refused.
 */
export function splitShellWords(text: string, env: ShellEnvironment): ShellWordsResult {
  try {
    return { ok: true, ...new WordReader(text, env).read() };
  } catch (error) {
    if (error instanceof ShellSyntaxError) return { ok: false, message: error.message, hint: error.hint };
    throw error;
  }
}

class WordReader {
  private readonly words: string[] = [];
  private readonly unset: string[] = [];
  private pieces: Piece[] = [];
  private i = 0;
  private readonly text: string;
  private readonly env: ShellEnvironment;

  constructor(text: string, env: ShellEnvironment) {
    this.text = text;
    this.env = env;
  }

  read(): { words: string[]; unset: string[] } {
    const { text } = this;
    while (this.i < text.length) {
      const char = text.charAt(this.i);
      if (BLANKS.has(char)) {
        this.endWord();
        this.i++;
      } else if (char === "'") {
        const end = text.indexOf("'", this.i + 1);
        if (end < 0) throw unterminated("'", this.i);
        this.literal(text.slice(this.i + 1, end));
        this.i = end + 1;
      } else if (char === '"') {
        this.readDoubleQuoted();
      } else if (char === '\\') {
        const next = text.charAt(this.i + 1);
        // A trailing backslash escapes nothing: sh keeps it. An escaped newline joins lines.
        this.literal(next === '' ? '\\' : next === '\n' ? '' : next);
        this.i += 2;
      } else if (char === '$') {
        const value = this.readExpansion();
        if (value === undefined) this.literal('$');
        else this.pieces.push({ text: value, split: true });
      } else if (OPERATORS.has(char)) {
        throw new ShellSyntaxError(
          `unquoted shell operator '${char}' at character ${this.i + 1}`,
          `boot2container passes container strings to a shell; quote the word that contains '${char}' (e.g. 'a${char}b')`,
        );
      } else if (char === '#' && this.pieces.length === 0) {
        throw new ShellSyntaxError(`unquoted '#' at character ${this.i + 1} starts a shell comment`, "quote the word (e.g. '#tag') or remove the comment");
      } else {
        this.literal(char);
        this.i++;
      }
    }
    this.endWord();
    return { words: this.words, unset: this.unset };
  }

  private literal(text: string): void {
    this.pieces.push({ text, split: false });
  }

  private endWord(): void {
    this.words.push(...fields(this.pieces));
    this.pieces = [];
  }

  private readDoubleQuoted(): void {
    const { text } = this;
    const start = this.i;
    let out = '';
    this.i++;
    while (this.i < text.length) {
      const char = text.charAt(this.i);
      if (char === '"') {
        this.literal(out);
        this.i++;
        return;
      }
      if (char === '\\' && DOUBLE_QUOTE_ESCAPES.has(text.charAt(this.i + 1))) {
        const next = text.charAt(this.i + 1);
        if (next !== '\n') out += next;
        this.i += 2;
      } else if (char === '$') {
        out += this.readExpansion() ?? '$';
      } else if (char === '`') {
        throw commandSubstitution(this.i);
      } else {
        out += char;
        this.i++;
      }
    }
    throw unterminated('"', start);
  }

  /** At a `$`: the expansion's value (moving past it), or undefined for a literal `$`. */
  private readExpansion(): string | undefined {
    const { text } = this;
    const at = this.i;
    const next = text.charAt(at + 1);
    if (next === '(') throw commandSubstitution(at);
    if (next === '{') {
      const close = text.indexOf('}', at + 2);
      const name = close < 0 ? '' : text.slice(at + 2, close);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw new ShellSyntaxError(
          `unsupported expansion '${close < 0 ? text.slice(at) : text.slice(at, close + 1)}' at character ${at + 1}: only $NAME and \${NAME} are expanded`,
          "write '${NAME}' in single quotes to pass it to the container's own shell, or \\$ for a literal dollar",
        );
      }
      this.i = close + 1;
      return this.lookup(name);
    }
    if (NAME_START.test(next)) {
      const name = NAME.exec(text.slice(at + 1))?.[0] ?? '';
      this.i = at + 1 + name.length;
      return this.lookup(name);
    }
    if (next !== '' && SPECIAL_PARAMETER.test(next)) {
      throw new ShellSyntaxError(
        `'$${next}' at character ${at + 1} is a parameter of the launcher's shell, not of the job`,
        `write '$${next}' in single quotes to pass it to the container's own shell, or \\$ for a literal dollar`,
      );
    }
    this.i = at + 1;
    return undefined;
  }

  private lookup(name: string): string {
    const value = this.env[name];
    if (value !== undefined) return value;
    if (!this.unset.includes(name)) this.unset.push(name);
    return '';
  }
}

/** sh's field splitting of one word: unquoted expansions split on IFS blanks, empty results vanish. */
function fields(pieces: readonly Piece[]): string[] {
  const out: string[] = [];
  let current = '';
  let present = false;
  for (const piece of pieces) {
    if (!piece.split) {
      current += piece.text;
      present = true;
      continue;
    }
    piece.text.split(IFS).forEach((part, index) => {
      if (index > 0 && present) {
        out.push(current);
        current = '';
        present = false;
      }
      if (part !== '') {
        current += part;
        present = true;
      }
    });
  }
  if (present) out.push(current);
  return out;
}

function commandSubstitution(index: number): ShellSyntaxError {
  return new ShellSyntaxError(
    `command substitution at character ${index + 1} would have run at the launcher, not in the container`,
    "quote it with single quotes so that the container's own shell runs it (e.g. sh -c 'echo $(date)')",
  );
}

function unterminated(quote: string, index: number): ShellSyntaxError {
  return new ShellSyntaxError(
    `the quote ${quote} at character ${index + 1} is never closed`,
    `close it, or escape a literal quote as \\${quote === '"' ? '"' : "'"} outside quotes`,
  );
}
