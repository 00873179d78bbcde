import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../../../src/cmdline/shell-words.ts';

function words(text: string, env: Record<string, string> = {}): string[] {
  const result = splitShellWords(text, env);
  if (!result.ok) throw new Error(`unexpected failure: ${result.message}`);
  return result.words;
}

function failure(text: string): string {
  const result = splitShellWords(text, { X: 'x' });
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

  it('expands $NAME and ${NAME} from the environment, unquoted and in double quotes, never in single quotes', () => {
    const env = { JOB: 'job-42', URL: 'http://10.42.0.1:9000' };
    expect(words(`-e ID=$JOB img sh -c 'echo $JOB' "\${URL}/a" $JOB-\${JOB}x`, env)).toEqual(['-e', 'ID=job-42', 'img', 'sh', '-c', 'echo $JOB', 'http://10.42.0.1:9000/a', 'job-42-job-42x']);
    expect(words('a\\$JOB "\\$JOB"', env)).toEqual(['a$JOB', '$JOB']);
  });

  it('splits an unquoted expansion on blanks as sh does; double quotes keep it one word; an empty one vanishes', () => {
    const env = { ARGS: '  -v  a:/b ', EMPTY: '' };
    expect(words('x$ARGS img', env)).toEqual(['x', '-v', 'a:/b', 'img']);
    expect(words('"$ARGS" img', env)).toEqual(['  -v  a:/b ', 'img']);
    expect(words('$EMPTY img "$EMPTY" \'\'$EMPTY', env)).toEqual(['img', '', '']);
  });

  it('lists each unset variable once; it expands to nothing (an empty word when double-quoted)', () => {
    const result = splitShellWords('img $A "$B" ${A} $JOB', { JOB: '1' });
    expect(result).toEqual({ ok: true, words: ['img', '', '1'], unset: ['A', 'B'] });
  });

  it('keeps a $ that starts no expansion, and globs literally', () => {
    expect(words('img $ a$ "$" $/x *.txt')).toEqual(['img', '$', 'a$', '$', '$/x', '*.txt']);
  });

  it('refuses expansions that would have run or meant something only at the launcher', () => {
    expect(failure('img "$(reboot)"')).toMatch(/command substitution at character 6/);
    expect(failure('img "`reboot`"')).toMatch(/command substitution/);
    expect(failure('img $(reboot)')).toMatch(/command substitution/);
    expect(failure('img ${X:-default}')).toMatch(/unsupported expansion '\$\{X:-default\}'/);
    expect(failure('img ${X')).toMatch(/unsupported expansion/);
    expect(failure('img "$1"')).toMatch(/'\$1' at character 6 is a parameter of the launcher's shell/);
    expect(failure('img $$')).toMatch(/parameter of the launcher/);
  });
});
