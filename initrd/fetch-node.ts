// Fetches the Node runtime package for a foreign architecture at the version and integrity
// package-lock.json pins (initrd/node-runtime.ts), with `npm pack`, and unpacks it.
// usage: node initrd/fetch-node.ts --arch arm64 --dir DIR  →  DIR/bin/node
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { integrityMatches, pinnedRuntime } from './node-runtime.ts';
import { nodePackage, parseArch } from './target.ts';

const repo = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { arch: { type: 'string' }, dir: { type: 'string' } } });

function fail(message: string): never {
  process.stderr.write(`fetch-node: ${message}\n`);
  process.exit(1);
}

function run(argv: readonly string[], cwd: string): string {
  const [program, ...args] = argv;
  if (program === undefined) fail('empty command');
  const result = spawnSync(program, args, { cwd, encoding: 'utf8' });
  if (result.error) fail(`cannot run ${program}: ${result.error.message}`);
  if (result.status !== 0) fail(`${argv.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

const name = nodePackage(parseArch(values.arch ?? fail('--arch ARCH is required')) ?? fail(`unknown architecture '${values.arch}'`));
const dir = resolve(values.dir ?? fail('--dir DIR is required'));
let pin;
try {
  pin = pinnedRuntime(JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')), name, nodePackage('x86_64'));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}

mkdirSync(dirname(dir), { recursive: true });
const work = mkdtempSync(`${dir}.tmp.`);
try {
  const packed: unknown = JSON.parse(run(['npm', 'pack', '--json', '--silent', `${pin.name}@${pin.version}`], work));
  const filename = Array.isArray(packed) && typeof packed[0]?.filename === 'string' ? packed[0].filename : fail('npm pack printed no file name');
  const tarball = join(work, filename);
  const digest = createHash('sha512').update(readFileSync(tarball)).digest('base64');
  if (!integrityMatches(pin.integrity, digest)) fail(`${filename} has sha512-${digest}, but package-lock.json pins ${pin.integrity}: refusing it`);
  mkdirSync(join(work, 'out'));
  run(['tar', '-xzf', tarball, '-C', join(work, 'out'), '--strip-components=1', '--no-same-owner'], work);
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(work, 'out'), dir);
} finally {
  rmSync(work, { recursive: true, force: true });
}
