import { describe, expect, it } from 'vitest';
import { tokenizeCommandLine } from '../../../src/cmdline/tokenize.ts';

const words = (text: string) => tokenizeCommandLine(text).tokens.map((token) => [token.key, token.value]);

describe('tokenizeCommandLine', () => {
  it('splits on spaces, tabs and newlines outside quotes', () => {
    expect(words('a=1  b\tc=3\n d')).toEqual([
      ['a', '1'],
      ['b', undefined],
      ['c', '3'],
      ['d', undefined],
    ]);
  });

  it('drops the quotes and keeps blanks inside them', () => {
    expect(words('b2c.container="-ti docker://alpine  ls" x')).toEqual([
      ['b2c.container', '-ti docker://alpine  ls'],
      ['x', undefined],
    ]);
  });

  it('drops quotes in the middle of a word and around the whole word', () => {
    expect(words('b2c.ntp_peer="10.42.0.1" "b2c.hostname=a b" b2c.keymap=f"r"')).toEqual([
      ['b2c.ntp_peer', '10.42.0.1'],
      ['b2c.hostname', 'a b'],
      ['b2c.keymap', 'fr'],
    ]);
  });

  it('splits key and value at the first = only', () => {
    expect(words('b2c.storage=additionalimagestores=fs a==b')).toEqual([
      ['b2c.storage', 'additionalimagestores=fs'],
      ['a', '=b'],
    ]);
  });

  it('keeps empty values apart from bare words', () => {
    expect(words('a= b="" c')).toEqual([
      ['a', ''],
      ['b', ''],
      ['c', undefined],
    ]);
  });

  it('reads \\" as a literal quote, inside or outside quotes', () => {
    expect(words('b2c.run="sh -c \\"echo hi\\"" x=\\"y')).toEqual([
      ['b2c.run', 'sh -c "echo hi"'],
      ['x', '"y'],
    ]);
  });

  it('keeps other backslashes, including a trailing one', () => {
    expect(words('a=b\\n c=d\\')).toEqual([
      ['a', 'b\\n'],
      ['c', 'd\\'],
    ]);
  });

  it('numbers tokens from 0 in order', () => {
    expect(tokenizeCommandLine(' x  y=1 "z w"').tokens.map((token) => token.position)).toEqual([0, 1, 2]);
  });

  it('reports a quote left open at the end of the line or of a line of extra arguments', () => {
    expect(tokenizeCommandLine('a="b c').unterminated).toEqual([0]);
    const multiLine = tokenizeCommandLine('a="b\nc=d');
    expect(multiLine.unterminated).toEqual([0]);
    expect(multiLine.tokens.map((token) => token.key)).toEqual(['a', 'c']);
  });

  it('yields nothing for blank input', () => {
    expect(tokenizeCommandLine(' \t\n').tokens).toEqual([]);
  });
});
