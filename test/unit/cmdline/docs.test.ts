import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS_PATH, renderCommandLineDocs } from '../../../src/cmdline/docs.ts';
import { CONTAINER_FLAGS, PARAMETERS, createDefaultPlan } from '../../../src/cmdline/index.ts';
import { parseCommandLine } from '../../../src/cmdline/parse.ts';

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

describe('documented defaults', () => {
  it('each documented default value, written on a line, gives the default plan (docs and behaviour share one definition)', () => {
    const withValues = PARAMETERS.filter((definition) => !definition.defaultText.startsWith('('));
    expect(withValues.map((definition) => definition.name)).toEqual(expect.arrayContaining(['b2c.cache_wait', 'b2c.hostname', 'b2c.shutdown_cmd', 'b2c.cache_min_free']));
    for (const definition of withValues) {
      const line = definition.flag && definition.defaultText === 'true' ? definition.name : `${definition.name}="${definition.defaultText}"`;
      const result = parseCommandLine(line, { env: {} });
      expect(result.problems, line).toEqual([]);
      expect(result.plan, line).toEqual(createDefaultPlan());
    }
  });
});
