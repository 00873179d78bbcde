export type ShellWordsResult = { ok: true; words: string[] } | { ok: false; message: string; hint: string };

const BLANKS = new Set([' ', '\t', '\n', '\r']);
// boot2container evaluates container strings with `eval`, so these would have been shell syntax.
const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')', '`']);
// Inside double quotes, a backslash only escapes these.
const DOUBLE_QUOTE_ESCAPES = new Set(['$', '`', '"', '\\', '\n']);

/**
 * POSIX sh word splitting of a container string, the way boot2container's `eval` saw it:
 * single quotes are literal, double quotes group words and honour \$ \` \" \\, an unquoted
 * backslash escapes the next character. Expansions (`$VAR`, globs) are not performed: the
 * words are kept literally, which is what every known job means.
 */
export function splitShellWords(text: string): ShellWordsResult {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;

  while (i < text.length) {
    const char = text.charAt(i);
    if (BLANKS.has(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (char === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return unterminated("'", i);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (char === '"') {
      const parsed = readDoubleQuoted(text, i + 1);
      if (parsed === undefined) return unterminated('"', i);
      word += parsed.text;
      inWord = true;
      i = parsed.next;
    } else if (char === '\\') {
      const next = text.charAt(i + 1);
      if (next === '') {
        // A trailing backslash escapes nothing: sh keeps it.
        word += '\\';
      } else if (next !== '\n') {
        word += next;
      }
      inWord = true;
      i += 2;
    } else if (OPERATORS.has(char)) {
      return {
        ok: false,
        message: `unquoted shell operator '${char}' at character ${i + 1}`,
        hint: `boot2container passes container strings to a shell; quote the word that contains '${char}' (e.g. 'a${char}b')`,
      };
    } else if (char === '#' && !inWord) {
      return {
        ok: false,
        message: `unquoted '#' at character ${i + 1} starts a shell comment`,
        hint: "quote the word (e.g. '#tag') or remove the comment",
      };
    } else {
      word += char;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}

function readDoubleQuoted(text: string, start: number): { text: string; next: number } | undefined {
  let out = '';
  let i = start;
  while (i < text.length) {
    const char = text.charAt(i);
    if (char === '"') return { text: out, next: i + 1 };
    if (char === '\\' && DOUBLE_QUOTE_ESCAPES.has(text.charAt(i + 1))) {
      const next = text.charAt(i + 1);
      if (next !== '\n') out += next;
      i += 2;
    } else {
      out += char;
      i++;
    }
  }
  return undefined;
}

function unterminated(quote: string, index: number): ShellWordsResult {
  return {
    ok: false,
    message: `the quote ${quote} at character ${index + 1} is never closed`,
    hint: `close it, or escape a literal quote as \\${quote === '"' ? '"' : "'"} outside quotes`,
  };
}
