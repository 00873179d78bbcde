import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/cmdline/index.ts';
import type { ContainerSpec } from '../../../src/cmdline/plan.ts';
import type { ImageConfig } from '../../../src/oci/index.ts';
import { ALL_CAPABILITIES, boundingCapabilities, capabilitiesFor, CONTAINER_INIT_PATH, createRuntimeSpec, processArgs, type RuntimeSpecInput } from '../../../src/run/runtime-spec.ts';

function container(flags: string): ContainerSpec {
  const { plan, problems } = parseCommandLine(`b2c.container="${flags}"`, { env: {} });
  expect(problems).toEqual([]);
  const spec = plan.containers[0];
  if (spec === undefined) throw new Error('no container');
  return spec;
}

const image = (config: ImageConfig['config'] = {}): ImageConfig => ({ config, rootfs: { type: 'layers', diff_ids: [] } });

function input(spec: ContainerSpec, config: ImageConfig = image({ Cmd: ['sh'] })): RuntimeSpecInput {
  return {
    id: 'container-1',
    container: spec,
    image: config,
    rootfs: '/bundle/rootfs',
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root', additions: {} },
    env: ['PATH=/bin'],
    hostname: 'dut',
    extraMounts: [],
    devices: [],
    availableCapabilities: ALL_CAPABILITIES,
  };
}

describe('processArgs', () => {
  it('follows podman: a command replaces Cmd, --entrypoint replaces Entrypoint and drops Cmd', () => {
    const config = image({ Entrypoint: ['/entry'], Cmd: ['default'] });
    expect(processArgs(container('img'), config)).toEqual(['/entry', 'default']);
    expect(processArgs(container('img run --fast'), config)).toEqual(['/entry', 'run', '--fast']);
    expect(processArgs(container('--entrypoint=/bin/sh img'), config)).toEqual(['/bin/sh']);
    expect(processArgs(container('--entrypoint /bin/sh img -c true'), config)).toEqual(['/bin/sh', '-c', 'true']);
  });

  it('refuses an image and container that give nothing to run, naming both', () => {
    expect(() => processArgs(container('registry.example/empty:1'), image({}))).toThrow(/nothing to run/);
  });
});

describe('capabilities', () => {
  it('privileged gets every capability the launcher has; --privileged=false gets podman defaults with --cap-add/--cap-drop', () => {
    expect(capabilitiesFor(container('img'))).toEqual(ALL_CAPABILITIES);
    const limited = capabilitiesFor(container('--privileged=false --cap-add=net_admin --cap-drop CAP_CHOWN img'));
    expect(limited).toContain('CAP_NET_ADMIN');
    expect(limited).toContain('CAP_KILL');
    expect(limited).not.toContain('CAP_CHOWN');
    expect(limited).not.toContain('CAP_SYS_ADMIN');
    expect(capabilitiesFor(container('--privileged=false --cap-drop=all img'))).toEqual([]);
  });

  it('never asks for a capability outside the bounding set (crun would fail at capset)', () => {
    const available = boundingCapabilities('Name:\tx\nCapBnd:\t000001fffeffffff\n');
    expect(available).not.toContain('CAP_SYS_RESOURCE');
    expect(available).toContain('CAP_SYS_BOOT');
    expect(capabilitiesFor(container('img'), available)).not.toContain('CAP_SYS_RESOURCE');
  });
});

describe('createRuntimeSpec', () => {
  it('defaults like boot2container: host network, the machine /dev and /sys, own PID namespace, no masked paths', () => {
    const spec = createRuntimeSpec(input(container('img')));
    const types = spec.linux.namespaces.map((namespace) => namespace.type);
    expect(types).not.toContain('network');
    expect(types).toContain('pid');
    expect(spec.mounts.find((mount) => mount.destination === '/dev')).toMatchObject({ type: 'bind', source: '/dev' });
    expect(spec.mounts.find((mount) => mount.destination === '/sys')).toMatchObject({ type: 'bind', source: '/sys' });
    expect(spec.linux.maskedPaths).toEqual([]);
    expect(spec.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(spec.process).toMatchObject({ terminal: false, cwd: '/', args: ['sh'] });
  });

  it('maps -t, -w, --pid=host, --network=none, --memory, --cpus, --shm-size, --ulimit, --tmpfs and --hostname', () => {
    const spec = createRuntimeSpec({
      ...input(container('-t -w /work --pid=host --network=none --memory 256m --cpus 1.5 --shm-size 1g --ulimit nofile=1024:2048 --tmpfs /scratch:size=64m --hostname box img')),
    });
    expect(spec.process.terminal).toBe(true);
    expect(spec.process.cwd).toBe('/work');
    const types = spec.linux.namespaces.map((namespace) => namespace.type);
    expect(types).not.toContain('pid');
    expect(types).toContain('network');
    expect(spec.linux.resources.memory).toEqual({ limit: 256 * 1024 * 1024 });
    expect(spec.linux.resources.cpu).toEqual({ quota: 150_000, period: 100_000 });
    expect(spec.mounts.find((mount) => mount.destination === '/dev/shm')?.options).toContain(`size=${1024 ** 3}`);
    expect(spec.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }]);
    expect(spec.mounts.find((mount) => mount.destination === '/scratch')).toMatchObject({ type: 'tmpfs', options: ['size=64m'] });
  });

  it('an unprivileged container gets its own /dev with only its --device nodes allowed, and masked /proc paths', () => {
    const spec = createRuntimeSpec({
      ...input(container('--privileged=false --device /dev/kvm img')),
      devices: [{ path: '/dev/kvm', type: 'c', major: 10, minor: 232, fileMode: 0o660, uid: 0, gid: 0 }],
    });
    expect(spec.mounts.find((mount) => mount.destination === '/dev')).toMatchObject({ type: 'tmpfs' });
    expect(spec.linux.resources.devices).toEqual([
      { allow: false, access: 'rwm' },
      { allow: true, access: 'rwm', type: 'c', major: 10, minor: 232 },
    ]);
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
  });

  it('joins namespaces given as ns:PATH', () => {
    const spec = createRuntimeSpec(input(container('--network=ns:/run/netns/lab --ipc=host img')));
    expect(spec.linux.namespaces).toContainEqual({ type: 'network', path: '/run/netns/lab' });
    expect(spec.linux.namespaces.map((item) => item.type)).not.toContain('ipc');
  });

  it('with --init, runs the command under the bound init binary as PID 1', () => {
    const spec = createRuntimeSpec({ ...input(container('--init img run')), initBinary: '/usr/bin/catatonit' });
    expect(spec.process.args).toEqual([CONTAINER_INIT_PATH, '--', 'run']);
    expect(spec.mounts).toContainEqual({ destination: CONTAINER_INIT_PATH, type: 'bind', source: '/usr/bin/catatonit', options: ['bind', 'ro', 'nosuid', 'nodev'] });
    const plain = createRuntimeSpec({ ...input(container('img run')), initBinary: '/usr/bin/catatonit' });
    expect(plain.process.args).toEqual(['run']);
    expect(plain.mounts.map((mount) => mount.destination)).not.toContain(CONTAINER_INIT_PATH);
  });

  it('refuses --init without an init binary rather than ignoring it', () => {
    expect(() => createRuntimeSpec(input(container('--init img')))).toThrow(/--init needs an init binary/);
  });

  it('with --read-only mounts the root read-only and /tmp, /var/tmp, /run as noexec tmpfs; a --tmpfs of the same place wins', () => {
    const plain = createRuntimeSpec(input(container('img')));
    expect(plain.root.readonly).toBe(false);
    expect(plain.mounts.map((mount) => mount.destination)).not.toContain('/tmp');
    const spec = createRuntimeSpec(input(container('--read-only --tmpfs /run:size=1m img')));
    expect(spec.root.readonly).toBe(true);
    const scratch = spec.mounts.filter((mount) => ['/tmp', '/var/tmp', '/run'].includes(mount.destination));
    expect(scratch).toEqual([
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'nosuid', 'nodev', 'noexec', 'mode=1777'] },
      { destination: '/var/tmp', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'nosuid', 'nodev', 'noexec', 'mode=1777'] },
    ]);
  });

  it('refuses a relative working directory, naming the container', () => {
    expect(() => createRuntimeSpec(input(container('img'), image({ Cmd: ['sh'], WorkingDir: 'relative' })))).toThrow(/not absolute/);
  });
});
