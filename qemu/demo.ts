// qemu/demo [--image SKOPEO-SOURCE] [--cmd 'COMMAND'] [-- EXTRA KERNEL ARGS...]: `make run`.
// Starts docker-registry on loopback, pushes the demo image (built offline from busybox-static) or
// copies --image there with skopeo, then boots the initramfs with a b2c.container line naming it.
// Exits with the pipeline status, like qemu/run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildImageLayout, pushLayout } from '../test/support/image.ts';
import { startRegistry } from '../test/support/registry.ts';
import { demoImageSpec } from './demo-image.ts';
import { boot, EXIT_NO_STATUS, EXIT_USAGE } from './harness.ts';

/** Under QEMU's user network the host's loopback is this address. */
export const HOST_FROM_GUEST = '10.0.2.2';

const USAGE = `usage: qemu/demo [--image SOURCE] [--cmd 'COMMAND ARGS'] [--timeout SECONDS] [-- KERNEL ARGS...]
  --image SOURCE   run this image instead of the busybox demo: any skopeo source
                   (oci:DIR:TAG, docker-archive:FILE, docker://HOST/NAME:TAG for a registry you can reach)
  --cmd COMMAND    the command and arguments after the image (shell words, as on a b2c.container line)`;

let values;
let positionals: string[];
try {
  ({ values, positionals } = parseArgs({
    allowPositionals: true,
    options: { image: { type: 'string' }, cmd: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  }));
} catch (error) {
  process.stderr.write(`qemu/demo: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(EXIT_USAGE);
}
if (values.help === true) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const registry = await startRegistry();
const work = mkdtempSync(join(tmpdir(), 'ocinit-demo-'));
try {
  let pushed: string;
  if (values.image === undefined || values.image === '') {
    await buildImageLayout(join(work, 'layout'), 'latest', demoImageSpec());
    pushed = await pushLayout(join(work, 'layout'), 'latest', registry, { name: 'ocinit/demo' });
  } else {
    const source = /^[a-z-]+:/.test(values.image) && !/^[^/]+:\d+\//.test(values.image) ? values.image : `docker://${values.image}`;
    pushed = `${registry.host}/ocinit/run:latest`;
    process.stdout.write(`qemu/demo: copying ${source} to the local registry\n`);
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', source, `docker://${pushed}`], { stdio: 'inherit' });
  }
  const reference = pushed.replace(/^127\.0\.0\.1:/, `${HOST_FROM_GUEST}:`);
  const container = `--tls-verify=false docker://${reference}${values.cmd === undefined || values.cmd === '' ? '' : ` ${values.cmd}`}`;
  process.stdout.write(`qemu/demo: registry on ${registry.host} (${HOST_FROM_GUEST}:${registry.port} in the guest); booting with b2c.container="${container}"\n`);
  const result = await boot({
    append: [`b2c.container="${container}"`, ...positionals],
    timeoutSeconds: values.timeout === undefined ? 600 : Number(values.timeout),
    onOutput: (chunk) => process.stdout.write(chunk),
  });
  if (result.status === undefined) process.stderr.write(`qemu/demo: the console showed no pipeline status line${result.timedOut ? ' (timed out)' : ''}\n`);
  process.exitCode = result.exitCode;
} catch (error) {
  process.stderr.write(`qemu/demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = EXIT_NO_STATUS;
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
