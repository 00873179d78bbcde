// Bundles the boot launcher and the host CLI into single files that need no node_modules at run time.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: false,
  legalComments: 'none',
  // Under TCG the launcher's first line waits for V8 to scan the whole bundle: dropping whitespace
  // and folding syntax shrinks it by a third; identifiers stay, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  // Some CommonJS dependencies call require() for Node built-ins; give the ESM bundle a require.
  banner: { js: "import { createRequire as __ocinitCreateRequire } from 'node:module'; const require = __ocinitCreateRequire(import.meta.url);" },
};

await build({ ...common, entryPoints: ['src/boot/main.ts'], outfile: 'dist/init.js' });
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.js',
  banner: { js: '#!/usr/bin/env node\n' + common.banner.js },
});
await chmod('dist/cli.js', 0o755);
