// What a job sees of its container (environment, /run/.containerenv, /etc/hostname, /etc/hosts,
// /etc/resolv.conf), under podman and under ocinit, for the same images and flags, side by side:
// boot2container runs jobs with podman, so podman is the reference. The one difference on purpose
// (docs/pipeline.md): with the host network ocinit also names the container's hostname in /etc/hosts.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImageSpec } from '../../../qemu/demo-image.ts';
import { openStorage } from '../../../src/cache/index.ts';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import { runPipeline } from '../../../src/run/index.ts';
import { buildImageLayout, pushLayout } from '../../support/image.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { capturingLogger, CRUN_PREFIX, tmpfsState, type HostState } from './host.ts';

const PROBE = `#!/bin/sh
{
  echo '--- id'; id; whoami
  echo '--- /etc/passwd, /etc/group'; tail -n 1 /etc/passwd /etc/group
  echo '--- env'; env | grep -v '^B2C_PIPELINE_' | sort
  echo '--- /run/.containerenv'; cat /run/.containerenv
  echo '--- /etc/hostname'; cat /etc/hostname; echo
  echo '--- /etc/hosts'; cat /etc/hosts
  echo '--- /etc/resolv.conf'; cat /etc/resolv.conf 2>/dev/null || echo '(none)'
} > "/out/$1.$2"
`;

let registry: TestRegistry;
let work: string;
let out: string;
let podmanState: HostState;
const images: Record<'demo' | 'user' | 'envs', string> = { demo: '', user: '', envs: '' };

/**
 * Each case: a name and podman-run flags before the image. No --privileged=false case: crun's device
 * filter for it needs RLIMIT_MEMLOCK raised, which a launcher without CAP_SYS_RESOURCE cannot do
 * (--cgroups=disabled spares podman); the empty .containerenv it gets is a unit test.
 */
const CASES: { name: string; flags: string; image: keyof typeof images; ownNetwork?: boolean }[] = [
  { name: 'plain', flags: '--hostname box', image: 'demo' },
  { name: 'imageuser', flags: '--hostname box', image: 'user' },
  { name: 'unknownuid', flags: '-u 1234', image: 'demo' },
  { name: 'unknowngroup', flags: '-u 1234:55 -w /tmp', image: 'demo' },
  { name: 'imageenv', flags: '-e container=flag', image: 'envs' },
  { name: 'dns', flags: '--dns 192.0.2.53 --dns 192.0.2.54', image: 'demo' },
  { name: 'nonetwork', flags: '--network=none --hostname box', image: 'demo', ownNetwork: true },
];

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'ocinit-podman-env-'));
  out = join(work, 'out');
  mkdirSync(out);
  chmodSync(out, 0o777); // the image's 'demo' user writes there too
  writeFileSync(join(out, 'probe.sh'), PROBE, { mode: 0o755 });
  const layout = join(work, 'layout');
  await buildImageLayout(layout, 'demo', demoImageSpec());
  images.demo = await pushLayout(layout, 'demo', registry, { name: 'ocinit/demo' });
  await buildImageLayout(layout, 'user', demoImageSpec({ User: 'demo' }));
  images.user = await pushLayout(layout, 'user', registry, { name: 'ocinit/user' });
  await buildImageLayout(layout, 'envs', demoImageSpec({ Env: ['PATH=/usr/bin:/bin', 'container=docker', 'HOME=/custom', 'TERM=dumb', 'HOSTNAME=from-image'] }));
  images.envs = await pushLayout(layout, 'envs', registry, { name: 'ocinit/envs' });
  podmanState = tmpfsState();
}, 120_000);

afterAll(async () => {
  podmanState.remove();
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
});

/**
 * `podman run` as boot2container runs it (privileged, host network, pull always). Its storage is a
 * temporary one. Through CRUN_PREFIX for the same reason as ocinit's crun (a pure cgroup2 view), with
 * --cgroups=disabled, and with rlimits lowered: podman raises RLIMIT_NOFILE to 1048576, which a
 * launcher without CAP_SYS_RESOURCE (this test machine) cannot grant; limits are not compared.
 */
function podmanRun(name: string, flags: string, image: string): void {
  const storage = podmanState.dir;
  const global = ['--root', join(storage, 'root'), '--runroot', join(storage, 'runroot'), '--tmpdir', join(storage, 'tmp'), '--storage-driver', 'vfs'];
  const network = flags.includes('--network=') ? [] : ['--network=host'];
  const run = ['run', '--rm', '--privileged', ...network, '--pull=always', '--tls-verify=false', '--cgroups=disabled', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
  const words = flags.split(' ');
  execFileSync(CRUN_PREFIX[0] ?? 'unshare', [...CRUN_PREFIX.slice(1), 'podman', ...global, ...run, '--name', name, ...words, '-v', `${out}:/out`, image, 'sh', '/out/probe.sh', name, 'podman'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 120_000,
  });
}

async function ocinitRun(): Promise<void> {
  // podman's containers get the host's name; ocinit's get b2c.hostname.
  const words = [`b2c.hostname=${hostname()}`, ...CASES.map(({ name, flags, image }) => `b2c.container="--tls-verify=false --name ${name} ${flags} -v ${out}:/out ${images[image]} sh /out/probe.sh ${name} ocinit"`)];
  const { plan, problems } = parseCommandLine(words.join(' '), { env: {} });
  expect(problems).toEqual([]);
  const state = tmpfsState();
  const { log, text } = capturingLogger();
  try {
    const storage = await openStorage(plan, log, { ramRoot: state.dir });
    const result = await runPipeline(plan, { storage, crun: { prefix: CRUN_PREFIX, stateDir: join(state.dir, 'crun') }, log, resolvConf: '/etc/resolv.conf', stopGraceMs: 500 });
    expect(result.status, text()).toBe(0);
  } finally {
    state.remove();
  }
}

/** The parts that are each engine's own: podman's random id and its engine name and version. */
function comparable(text: string): string {
  return text.replace(/^id=".*"$/m, 'id=ID').replace(/^engine=".*"$/m, 'engine=ENGINE');
}

const seen = (name: string, engine: 'podman' | 'ocinit'): string => readFileSync(join(out, `${name}.${engine}`), 'utf8');

describe('a container as podman makes it', () => {
  beforeAll(async () => {
    for (const { name, flags, image } of CASES) podmanRun(name, flags, images[image]);
    await ocinitRun();
  }, 300_000);

  it.each(CASES)('$name ($flags): the same environment and files as podman run', ({ name, ownNetwork }) => {
    const podman = comparable(seen(name, 'podman'));
    const ocinit = comparable(seen(name, 'ocinit'));
    if (ownNetwork === true) {
      expect(ocinit).toBe(podman);
      return;
    }
    // podman relies on the host's /etc/hosts for the hostname; ocinit names it (the initramfs' file does not).
    const hostname = /^--- \/etc\/hostname\n(.*)$/m.exec(ocinit)?.[1];
    expect(ocinit).toBe(podman.replace(/(--- \/etc\/hosts\n(?:.+\n)*?)(--- \/etc\/resolv.conf)/, `$1127.0.0.1\t${hostname} ${name}\n$2`));
  });

  it('shows what jobs look for: container=podman, a filled .containerenv, HOME from the image\'s user', () => {
    const plain = seen('plain', 'ocinit');
    expect(plain).toMatch(/^container=podman$/m);
    expect(plain).toMatch(/^TERM=xterm$/m);
    expect(plain).toMatch(/^HOME=\/root$/m);
    expect(plain).toMatch(new RegExp(`^image="${images.demo}"\nimageid="[0-9a-f]{64}"\nrootless=0$`, 'm'));
    expect(seen('imageuser', 'ocinit')).toMatch(/^HOME=\/home\/demo$/m);
    expect(seen('unknownuid', 'ocinit')).toMatch(/^uid=1234\(1234\) gid=0\(root\)/m);
    expect(seen('unknownuid', 'ocinit')).toMatch(/^HOME=\/$/m);
    expect(seen('imageenv', 'ocinit')).toMatch(/^container=flag$/m);
    expect(seen('imageenv', 'ocinit')).toMatch(/^HOME=\/custom$/m);
    expect(seen('nonetwork', 'ocinit')).toMatch(/--- \/etc\/resolv.conf\n\(none\)\n/);
  });
});
