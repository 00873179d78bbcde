import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../../../src/system/shell.ts';

describe('shellQuote', () => {
  it('gives sh back exactly the word, whatever it holds', () => {
    for (const word of ['plain', '', "it's", 'a b\tc', '$HOME `id` $(id) "q" \\ ; | & > *', "''", 'new\nline']) {
      const result = spawnSync('sh', ['-c', `printf %s ${shellQuote(word)}`], { encoding: 'utf8' });
      expect(result.stdout).toBe(word);
    }
  });
});
