/** One `key[=value]` word of a kernel command line, quotes removed. */
export interface Token {
  /** Text before the first `=` (the whole word when there is none). */
  key: string;
  /** Text after the first `=`; undefined for a bare word such as `b2c.pipefail`. */
  value: string | undefined;
  /** Index of the token in the line, 0-based: what Problems report. */
  position: number;
}

export interface TokenizeResult {
  tokens: Token[];
  /** Positions of tokens whose double quote was never closed (the line ended first). */
  unterminated: number[];
}

const BLANKS = new Set([' ', '\t', '\r', '\n', '\v', '\f']);

/**
 * boot2container's splitting rules: blanks separate words outside double quotes; the quotes
 * themselves are dropped wherever they are in the word (`b2c.ntp_peer="10.42.0.1"`, `"a=b c"`);
 * `\"` is a literal quote; any other backslash is kept as is (container strings need theirs).
 * A newline ends a quoted section too: b2c reads extra-argument files line by line.
 */
export function tokenizeCommandLine(text: string): TokenizeResult {
  const tokens: Token[] = [];
  const unterminated: number[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;

  const finish = (): void => {
    if (!inWord) return;
    if (quoted) unterminated.push(tokens.length);
    tokens.push(splitKeyValue(word, tokens.length));
    word = '';
    inWord = false;
    quoted = false;
  };

  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (char === '\\' && text.charAt(i + 1) === '"') {
      word += '"';
      inWord = true;
      i++;
    } else if (char === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (char === '\n' || (BLANKS.has(char) && !quoted)) {
      finish();
    } else {
      word += char;
      inWord = true;
    }
  }
  finish();
  return { tokens, unterminated };
}

function splitKeyValue(word: string, position: number): Token {
  const equals = word.indexOf('=');
  if (equals < 0) return { key: word, value: undefined, position };
  return { key: word.slice(0, equals), value: word.slice(equals + 1), position };
}
