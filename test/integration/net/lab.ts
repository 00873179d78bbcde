// Thin TypeScript handle on qemu/lab for the tests: the lab itself is the shell helper developers use by hand.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const labScript = `${repoRoot}qemu/lab`;

export const LAB_GATEWAY = '10.77.0.1';
export const SILENT_GATEWAY = '10.78.0.1';
/** The bridge with dnsmasq's DHCP, and the one without any DHCP server. */
export type Bridge = 'lab0' | 'lab1';

export interface Lab {
  ns: string;
  dir: string;
  /** A veth into DUT namespace `dut` (created on first use); returns the lab-side interface name. */
  veth(dut: string, ifname: string, bridge: Bridge): Promise<string>;
  exec(argv: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  publish(file: string, as: string): Promise<void>;
  /** `qemu/lab pxe`: serve KERNEL and INITRD with an iPXE script booting them with `append`. */
  pxe(kernel: string, initrd: string, append: readonly string[]): Promise<void>;
  /** `qemu/lab boot`: a QEMU DUT on the lab's taps; `code` is qemu/run's exit code (the pipeline status). */
  boot(args: readonly string[], timeoutMs: number): Promise<{ code: number; console: string }>;
  down(): Promise<void>;
}

async function lab(args: readonly string[]): Promise<string> {
  const { stdout } = await run(labScript, args, { maxBuffer: 16 << 20 });
  return stdout;
}

/** A fresh lab with a unique name (so that parallel runs never share namespaces). */
export async function startLab(options: { registry?: boolean } = {}): Promise<Lab> {
  const ns = `ocl${randomBytes(3).toString('hex')}`;
  const settings = await lab(['up', ns, ...(options.registry === true ? ['--registry'] : [])]);
  const dir = /^LAB_DIR=(.*)$/m.exec(settings)?.[1] ?? '';
  return {
    ns,
    dir,
    veth: async (dut, ifname, bridge) => (await lab(['veth', ns, dut, ifname, bridge])).trim(),
    exec: (argv) => run('ip', ['netns', 'exec', ns, ...argv], { maxBuffer: 16 << 20 }),
    publish: async (file, as) => void (await lab(['publish', ns, file, as])),
    pxe: async (kernel, initrd, append) => void (await lab(['pxe', ns, kernel, initrd, ...append])),
    boot: async (args, timeoutMs) => {
      const result = await runAllowingFailure(labScript, ['boot', ns, ...args], timeoutMs);
      return { code: result.code, console: result.stdout + result.stderr };
    },
    down: async () => void (await lab(['down', ns])),
  };
}

/** Runs a command inside a DUT namespace; never throws for a non-zero exit. */
export async function inNamespace(ns: string, argv: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return runAllowingFailure('ip', ['netns', 'exec', ns, ...argv], timeoutMs);
}

async function runAllowingFailure(program: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(program, args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
  }
}
