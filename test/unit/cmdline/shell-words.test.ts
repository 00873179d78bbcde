import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../../../src/cmdline/shell-words.ts';

function words(text: string): string[] {
  const result = splitShellWords(text);
  if (!result.ok) throw new Error(`unexpected failure: ${result.message}`);
  return result.words;
}

function failure(text: string): string {
  const result = splitShellWords(text);
  if (result.ok) throw new Error(`expected a failure for ${text}`);
  return result.message;
}

describe('splitShellWords', () => {
  it('splits on blanks', () => {
    expect(words(' -ti\tdocker://alpine  ls -l ')).toEqual(['-ti', 'docker://alpine', 'ls', '-l']);
  });

  it('groups single-quoted text literally', () => {
    expect(words(`bash -euc 'tar xf a.tar; ./run.sh "x" $HOME \\n'`)).toEqual(['bash', '-euc', 'tar xf a.tar; ./run.sh "x" $HOME \\n']);
  });

  it('groups double-quoted text and honours its four escapes only', () => {
    expect(words('sh -c "echo \\"hi\\" \\$X \\\\ \\n"')).toEqual(['sh', '-c', 'echo "hi" $X \\ \\n']);
  });

  it('joins quoted pieces in the middle of a word', () => {
    expect(words(`-e A='x y'"z"w`)).toEqual(['-e', 'A=x yzw']);
  });

  it('keeps empty quoted words', () => {
    expect(words(`--entrypoint '' img ""`)).toEqual(['--entrypoint', '', 'img', '']);
  });

  it('escapes the next character outside quotes and keeps a trailing backslash', () => {
    expect(words('a\\ b c\\')).toEqual(['a b', 'c\\']);
  });

  it('keeps = and commas as ordinary characters', () => {
    expect(words('--mount=type=bind,src=/a,dst=/b')).toEqual(['--mount=type=bind,src=/a,dst=/b']);
  });

  it('refuses unclosed quotes', () => {
    expect(failure(`sh -c 'echo`)).toMatch(/quote ' at character 7 is never closed/);
    expect(failure('sh -c "echo')).toMatch(/quote " at character 7 is never closed/);
  });

  it('refuses unquoted shell operators and comments, which b2c would have evaluated', () => {
    expect(failure('img ls; reboot')).toMatch(/operator ';'/);
    expect(failure('img ls > /dev/null')).toMatch(/operator '>'/);
    expect(failure('img ls #comment')).toMatch(/comment/);
    expect(words(`img 'a;b' c#d`)).toEqual(['img', 'a;b', 'c#d']);
  });
});
