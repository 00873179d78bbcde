// Bundles the boot launcher and the host CLI into single files that need no node_modules at run time.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

/** An esbuild plugin giving undici's `require(builtin)` the module `contents` instead of Node's own. */
function undiciStub(builtin, contents) {
  const namespace = `undici-stub-${builtin}`;
  const filter = new RegExp(`^node:${builtin}$`);
  return {
    name: namespace,
    setup(build) {
      build.onResolve({ filter }, (args) => (args.importer.includes('/node_modules/undici/') ? { path: `node:${builtin}`, namespace } : undefined));
      build.onLoad({ filter: /.*/, namespace }, () => ({ contents, loader: 'js' }));
    },
  };
}

// Loading node:http2 takes ~0.3 s under qemu-user, most of the launcher's evaluation of the
// registry client, for a protocol ocinit never offers (src/oci/http-client.ts: allowH2 false).
// undici's HTTP/2 client requires it inside a try and carries on without it, as on a Node built
// without HTTP/2; this stub is what that require finds.
const withoutHttp2 = undiciStub('http2', "throw Object.assign(new Error('node:http2 is left out of this bundle: ocinit speaks HTTP/1.1'), { code: 'ERR_UNKNOWN_BUILTIN_MODULE' });");

// undici's client requires node:http for two things: the default header size limit and the
// IncomingMessage class (to tell Node's own response streams apart, which the launcher never hands
// it). Loading node:http (its agent, client, server and message modules) is ~0.1 s of the
// launcher's main thread under TCG, so the launcher's bundle gives undici this instead. The value
// is Node's default (--max-http-header-size), which the launcher's Node runs with (initrd/init.sh).
const undiciWithoutNodeHttp = undiciStub('http', 'module.exports = { maxHeaderSize: 16 * 1024, IncomingMessage: class IncomingMessage {} };');

const common = {
  bundle: true,
  plugins: [withoutHttp2],
  platform: 'node',
  target: 'node24',
  sourcemap: false,
  legalComments: 'none',
  // Under TCG the launcher's first line waits for V8 to compile the bundle: dropping whitespace
  // and folding syntax shrinks it by a third; identifiers stay, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};

// The launcher is CommonJS: an ESM bundle hoists every `import ... from 'node:*'` to its top, so
// Node would load http, tls, crypto, zlib... before the first line. As CommonJS, the modules main.ts
// imports with `await import()` (network, registry, containers, cache) are wrapped by esbuild and
// evaluated, with the built-ins they require, only when the boot reaches them.
await build({ ...common, plugins: [withoutHttp2, undiciWithoutNodeHttp], format: 'cjs', entryPoints: ['src/boot/main.ts'], outfile: 'dist/init.js' });
await build({
  ...common,
  format: 'esm',
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.js',
  // Some CommonJS dependencies call require() for Node built-ins; give the ESM bundle a require.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __ocinitCreateRequire } from 'node:module'; const require = __ocinitCreateRequire(import.meta.url);" },
});
await chmod('dist/cli.js', 0o755);
