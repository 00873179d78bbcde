import { describe, expect, it } from 'vitest';
import { precompileHttpParser } from '../../../src/oci/http-parser.ts';

describe("undici's HTTP parser compiled ahead of the first request", () => {
  it('compiles the WebAssembly module undici loads, once', async () => {
    const first = precompileHttpParser();
    expect(precompileHttpParser()).toBe(first);
    const module = await first;
    expect(Object.prototype.toString.call(module)).toBe('[object WebAssembly.Module]');
  });
});
