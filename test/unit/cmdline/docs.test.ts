import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS_PATH, renderCommandLineDocs } from '../../../src/cmdline/docs.ts';
import { CONTAINER_FLAGS, PARAMETERS } from '../../../src/cmdline/index.ts';

const committed = readFileSync(join(import.meta.dirname, '../../..', DOCS_PATH), 'utf8');

describe('docs/cmdline.md', () => {
  it('is what the tables generate (run `npx node src/cmdline/docs.ts --write` after changing them)', () => {
    expect(committed).toBe(renderCommandLineDocs());
  });

  it('documents every parameter, alias and container flag', () => {
    for (const definition of PARAMETERS) {
      expect(committed).toContain(`### ${definition.name}`);
      for (const alias of definition.aliases) expect(committed).toContain(`\`${alias}\``);
    }
    for (const flag of CONTAINER_FLAGS) for (const name of flag.names) expect(committed).toContain(`\`${name}\``);
  });
});
