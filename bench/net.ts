// bench/net: time to network-ready under the lab's DHCP (qemu/lab), ocinit beside boot2container's
// approach (initrd/rootfs/usr/share/ocinit/bench/b2c-net.sh: sequential busybox udhcpc attempts)
// booted from the same kernel and initramfs, alternating, on two topologies: one NIC with a DHCP
// server, and two NICs where only the second has one. Prints medians and ratios.
// usage: bench/net [--runs N] [--accel auto|kvm|tcg]      (root: it creates network namespaces)
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../qemu/harness.ts';
import { consoleNumber, median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, accel: { type: 'string', default: 'auto' } } });
const runs = Number.parseInt(values.runs ?? '5', 10);
const accel = values.accel ?? 'auto';
const labScript = join(REPO_ROOT, 'qemu/lab');
const B2C_INIT = '/usr/share/ocinit/bench/b2c-net.sh';

interface Sample {
  /** From the kernel starting the init program to network ready. */
  sinceInit: number;
  /** The network phase alone: links up to lease applied. */
  phase: number;
}

function boot(ns: string, nics: readonly string[], append: readonly string[]): string {
  const args = ['boot', ns, '--accel', accel, '--timeout', '180', ...nics.flatMap((nic) => ['--nic', nic]), '--', 'loglevel=7', ...append];
  const result = spawnSync(labScript, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return result.stdout + result.stderr;
}

let acceleration = 'unknown';

function ocinitSample(ns: string, nics: readonly string[]): Sample {
  // ip=dhcp: the launcher configures the network only when the command line needs it.
  const console = boot(ns, nics, ['ip=dhcp']);
  acceleration = /CPU: .*TCG/.test(console) ? 'TCG' : 'KVM';
  const init = consoleNumber(console, /\[\s*(\d+\.\d+)\] Run \/init as init process/);
  const ready = consoleNumber(console, /\[(\d+\.\d+)\]: Network ready in /);
  return { sinceInit: ready - init, phase: consoleNumber(console, /Network ready in (\d+\.\d+) s/) };
}

function b2cSample(ns: string, nics: readonly string[]): Sample {
  const console = boot(ns, nics, [`rdinit=${B2C_INIT}`]);
  const init = consoleNumber(console, /\[\s*(\d+\.\d+)\] Run \S+b2c-net\.sh as init process/);
  const ready = consoleNumber(console, /\[(\d+\.\d+)\]: b2c-net: network ready on/);
  return { sinceInit: ready - init, phase: consoleNumber(console, /b2c-net: network ready on \S+ in (\d+\.\d+) s/) };
}

const topologies = [
  { name: 'one NIC, DHCP server', nics: ['tap0'] },
  { name: 'two NICs, DHCP on the second only', nics: ['tap1', 'tap0'] },
];
const ns = `ocb${randomBytes(3).toString('hex')}`;
execFileSync(labScript, ['up', ns], { stdio: 'ignore' });
const results = topologies.map(() => ({ ocinit: [] as Sample[], b2c: [] as Sample[] }));
try {
  for (let run = 0; run < runs; run++) {
    topologies.forEach((topology, index) => {
      const result = results[index];
      if (result === undefined) return;
      result.ocinit.push(ocinitSample(ns, topology.nics));
      result.b2c.push(b2cSample(ns, topology.nics));
      const last = (samples: Sample[]): string => `${samples.at(-1)?.sinceInit.toFixed(2)} s (phase ${samples.at(-1)?.phase.toFixed(2)} s)`;
      process.stderr.write(`run ${run + 1}/${runs}, ${topology.name}: ocinit ${last(result.ocinit)}, b2c-style ${last(result.b2c)}\n`);
    });
  }
} finally {
  execFileSync(labScript, ['down', ns], { stdio: 'ignore' });
}

const qemuVersion = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
const dnsmasqVersion = spawnSync('dnsmasq', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
console.log(`bench/net: ${runs} boots each, medians; ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}; ${qemuVersion}; ${dnsmasqVersion}; --accel ${accel}: ${acceleration}`);
console.log('| topology | ocinit: /init → network ready | b2c-style: /init → network ready | ratio | ocinit network phase | b2c-style network phase |');
console.log('|---|---|---|---|---|---|');
topologies.forEach((topology, index) => {
  const result = results[index];
  if (result === undefined) return;
  const ours = median(result.ocinit.map((sample) => sample.sinceInit));
  const theirs = median(result.b2c.map((sample) => sample.sinceInit));
  const ourPhase = median(result.ocinit.map((sample) => sample.phase));
  const theirPhase = median(result.b2c.map((sample) => sample.phase));
  console.log(`| ${topology.name} | ${ours.toFixed(2)} s | ${theirs.toFixed(2)} s | ${(ours / theirs).toFixed(2)} | ${ourPhase.toFixed(2)} s | ${theirPhase.toFixed(2)} s |`);
});
