// Pulling the plug on a QEMU boot, as a PDU or a watchdog does in a farm: SIGKILL to QEMU the
// moment the console shows a given line, so the guest gets no chance to sync or unmount.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boot, type BootOptions, type BootResult } from '../../../qemu/harness.ts';

export async function bootAndCutPower(options: BootOptions, when: RegExp): Promise<BootResult & { cut: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'ocinit-power-cut-'));
  const pidFile = join(dir, 'qemu.pid');
  let seen = '';
  let cut = false;
  try {
    const result = await boot({
      ...options,
      extraArgs: [...(options.extraArgs ?? []), '-pidfile', pidFile],
      onOutput: (chunk) => {
        options.onOutput?.(chunk);
        seen += chunk;
        if (!cut && when.test(seen)) {
          cut = true;
          process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
        }
      },
    });
    return { ...result, cut };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
