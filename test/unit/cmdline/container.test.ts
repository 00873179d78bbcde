import { describe, expect, it } from 'vitest';
import { CONTAINER_FLAGS } from '../../../src/cmdline/container-flags.ts';
import { collectingContext, container, containerProblems } from './helpers.ts';
import { parseContainer } from '../../../src/cmdline/container.ts';

describe('container strings: image and command', () => {
  it('takes the first word after the flags as the image, the rest as the command', () => {
    const spec = container(`-ti docker://registry.example.com:5000/mesa/ci:1.2 bash -euc 'tar xf a.tar; ./run.sh'`);
    expect(spec.image).toBe('registry.example.com:5000/mesa/ci:1.2');
    expect(spec.command).toEqual(['bash', '-euc', 'tar xf a.tar; ./run.sh']);
  });

  it('makes the docker:// prefix optional and keeps digests', () => {
    expect(container('alpine:3.20').image).toBe('alpine:3.20');
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(container(`docker://alpine@${digest}`).image).toBe(`alpine@${digest}`);
  });

  it('stops reading flags at the image: later dashes belong to the command', () => {
    const spec = container('-t alpine ls -t --privileged=false');
    expect(spec.command).toEqual(['ls', '-t', '--privileged=false']);
    expect(spec.privileged).toBe(true);
  });

  it('accepts -- as the end of the flags', () => {
    expect(container('-t -- alpine --rm')).toMatchObject({ image: 'alpine', command: ['--rm'], tty: true });
  });

  it('checks the image reference, catching unrendered template variables', () => {
    expect(containerProblems('docker://${PULL_THRU_REGISTRY}/mupuf/valve-infra/machine_registration:latest check')[0]).toMatch(
      /invalid image reference/,
    );
    expect(containerProblems('Registry.example.com/Mesa:1')[0]).toMatch(/must be lowercase/);
  });

  it("applies boot2container's defaults when no flag changes them", () => {
    const spec = container('alpine');
    expect(spec).toMatchObject({
      command: [],
      tty: false,
      interactive: false,
      privileged: true,
      network: 'host',
      pull: 'always',
      noNewPrivileges: false,
      tlsVerify: true,
      entrypoint: undefined,
    });
  });

  it('keeps the source and the 1-based index for messages', () => {
    const spec = container('-t alpine echo "a b"');
    expect(spec.source).toBe('-t alpine echo "a b"');
    expect(spec.index).toBe(1);
    expect(spec.parameter).toBe('b2c.container');
  });

  it('rejects an empty string, a missing image, and other transports', () => {
    expect(containerProblems('   ')[0]).toMatch(/empty/);
    expect(containerProblems('-ti --tls-verify=false')[0]).toMatch(/no image/);
    expect(containerProblems('oci:/tmp/layout:latest')[0]).toMatch(/not a registry image/);
  });
});

describe('container flags', () => {
  it('reads -t, -i, -ti, -it and their long forms', () => {
    expect(container('-ti alpine')).toMatchObject({ tty: true, interactive: true });
    expect(container('-it alpine')).toMatchObject({ tty: true, interactive: true });
    expect(container('--tty --interactive alpine')).toMatchObject({ tty: true, interactive: true });
    expect(container('-t alpine')).toMatchObject({ tty: true, interactive: false });
    expect(container('--tty=false -i alpine')).toMatchObject({ tty: false, interactive: true });
  });

  it('reads boolean flags with =true|false only, never from the next word', () => {
    expect(container('--tls-verify=false alpine').tlsVerify).toBe(false);
    expect(container('--tls-verify false').image).toBe('false');
    expect(containerProblems('--tls-verify=maybe alpine')[0]).toMatch(/--tls-verify: 'maybe' is not true or false/);
  });

  it('reads -e/--env in every spelling, keeping = inside values', () => {
    const spec = container('-e A=1 --env B=x=y -eC=3 --env=D= -e E alpine', { E: 'from-launcher' });
    expect(spec.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'x=y' },
      { name: 'C', value: '3' },
      { name: 'D', value: '' },
      { name: 'E', value: 'from-launcher' },
    ]);
  });

  it("refuses --env NAME when the launcher's environment lacks it", () => {
    expect(containerProblems('--env MISSING alpine')[0]).toMatch(/'MISSING' has no value/);
    expect(containerProblems('-e =x alpine')[0]).toMatch(/not NAME=VALUE/);
  });

  it("expands $VAR from the launcher's environment as boot2container's shell did, warning about each unset one", () => {
    const { warnings, context } = collectingContext({ CI_JOB_ID: '1234' });
    const spec = parseContainer(`-e JOB=$CI_JOB_ID -v "\${VOLUME}results:/r" alpine sh -c 'echo $CI_JOB_ID' "$CI_JOB_ID"`, 'b2c.container', 1, context);
    expect(spec?.env).toEqual([{ name: 'JOB', value: '1234' }]);
    expect(spec?.volumes[0]).toMatchObject({ source: 'results', destination: '/r' });
    expect(spec?.command).toEqual(['sh', '-c', 'echo $CI_JOB_ID', '1234']);
    expect(spec?.source).toContain('$CI_JOB_ID');
    expect(warnings.map((warning) => warning.message)).toEqual([
      "b2c.container #1: $VOLUME is not set in the launcher's environment, so it expands to nothing (as in boot2container's shell)",
    ]);
  });

  it('keeps --env-file paths for run time', () => {
    expect(container('--env-file /user/job.env --env-file=/b.env alpine').envFiles).toEqual(['/user/job.env', '/b.env']);
    expect(containerProblems('--env-file job.env alpine')[0]).toMatch(/not an absolute path/);
  });

  it('reads -v/--volume as named, bind or anonymous volumes with options', () => {
    const spec = container('-v results:/results -v /dev/shm:/dev/shm:ro,z --volume=./rel:/r -v /scratch alpine');
    expect(spec.volumes).toEqual([
      { source: 'results', kind: 'named', destination: '/results', options: [], readOnly: false },
      { source: '/dev/shm', kind: 'bind', destination: '/dev/shm', options: ['ro', 'z'], readOnly: true },
      { source: './rel', kind: 'bind', destination: '/r', options: [], readOnly: false },
      { source: '', kind: 'anonymous', destination: '/scratch', options: [], readOnly: false },
    ]);
  });

  it('refuses malformed volumes', () => {
    expect(containerProblems('-v results:relative alpine')[0]).toMatch(/not an absolute path/);
    expect(containerProblems('-v a:/b:bogus alpine')[0]).toMatch(/unknown volume option/);
    expect(containerProblems('-v a:/b:ro:x alpine')[0]).toMatch(/SRC:DST/);
    expect(containerProblems("-v 'bad$name:/b' alpine")[0]).toMatch(/neither a host path nor a valid volume name/);
    expect(containerProblems('-v alpine')).toEqual([
      "b2c.container #1: -v: the destination 'alpine' is not an absolute path",
      'b2c.container #1: no image after the flags',
    ]);
  });

  it('reads --mount for bind, volume and tmpfs', () => {
    const spec = container(
      '--mount type=bind,source=/srv,destination=/srv,ro --mount=type=volume,src=cache,target=/cache,volume-nocopy ' +
        '--mount type=tmpfs,dst=/tmp,tmpfs-size=64m,tmpfs-mode=1777 alpine',
    );
    expect(spec.mounts).toEqual([
      { type: 'bind', source: '/srv', destination: '/srv', readOnly: true, options: {} },
      { type: 'volume', source: 'cache', destination: '/cache', readOnly: false, options: { 'volume-nocopy': '' } },
      { type: 'tmpfs', destination: '/tmp', size: 64 * 1024 * 1024, mode: 0o1777, options: {} },
    ]);
  });

  it('refuses --mount options it would not honour, naming them', () => {
    expect(containerProblems('--mount type=bind,src=/a,dst=/a,bind-propagation=rshared,chown=true alpine')).toEqual([
      'b2c.container #1: --mount: type=bind: option(s) chown not supported by ocinit',
    ]);
    expect(containerProblems('--mount type=tmpfs,dst=/t,tmpfs-uid=1 alpine')).toEqual(['b2c.container #1: --mount: type=tmpfs: option(s) tmpfs-uid not supported by ocinit']);
    expect(containerProblems('--mount type=bind,src=/a,dst=/a,bind-propagation=sideways alpine')[0]).toMatch(/bind-propagation=sideways is not one of shared/);
    expect(container('--mount type=bind,src=/a,dst=/a,bind-propagation=rslave,bind-nonrecursive alpine').mounts[0]?.options).toEqual({ 'bind-propagation': 'rslave', 'bind-nonrecursive': '' });
  });

  it('refuses -v options it would not honour, saying what they mean', () => {
    expect(containerProblems('-v data:/data:U alpine')).toEqual(['b2c.container #1: -v: volume option(s) U (chown to the container user) not supported by ocinit']);
    expect(containerProblems('-v data:/data:O,copy alpine')[0]).toMatch(/O \(an overlay on the source\), copy \(copying the image's files into the volume\) not supported/);
    expect(container('-v data:/data:noexec,nosuid,nodev,Z,nocopy,rslave,bind alpine').volumes[0]?.options).toEqual(['noexec', 'nosuid', 'nodev', 'Z', 'nocopy', 'rslave', 'bind']);
  });

  it('refuses malformed mounts', () => {
    expect(containerProblems('--mount type=bind,src=/a alpine')[0]).toMatch(/no absolute destination/);
    expect(containerProblems('--mount type=image,src=x,dst=/x alpine')[0]).toMatch(/unsupported mount type 'image'/);
    expect(containerProblems('--mount type=bind,src=rel,dst=/x alpine')[0]).toMatch(/absolute source/);
    expect(containerProblems('--mount type=tmpfs,dst=/t,tmpfs-mode=999 alpine')[0]).toMatch(/octal/);
  });

  it('reads --tmpfs with and without options', () => {
    expect(container('--tmpfs /run --tmpfs /tmp:rw,size=64m,mode=1777 alpine').tmpfs).toEqual([
      { destination: '/run', options: [] },
      { destination: '/tmp', options: ['rw', 'size=64m', 'mode=1777'] },
    ]);
  });

  it('reads -w/--workdir and -u/--user', () => {
    expect(container('-w /job -u 1000:1000 alpine')).toMatchObject({ workdir: '/job', user: '1000:1000' });
    expect(container('--workdir=/a --user root alpine')).toMatchObject({ workdir: '/a', user: 'root' });
    expect(containerProblems('-w job alpine')[0]).toMatch(/not an absolute path/);
  });

  it('reads --entrypoint as one word, a JSON array, or empty', () => {
    expect(container('--entrypoint=/bin/init alpine').entrypoint).toEqual(['/bin/init']);
    expect(container('--entrypoint sh alpine -euc "x"').entrypoint).toEqual(['sh']);
    expect(container(`--entrypoint '["/bin/sh","-c"]' alpine`).entrypoint).toEqual(['/bin/sh', '-c']);
    expect(container(`--entrypoint= alpine`).entrypoint).toEqual([]);
    expect(containerProblems(`--entrypoint '["/bin/sh",1]' alpine`)[0]).toMatch(/JSON array of strings/);
  });

  it('reads --dns servers and none', () => {
    expect(container('--dns=none --dns 10.0.0.1 --dns=fd00::1 alpine').dns).toEqual(['none', '10.0.0.1', 'fd00::1']);
    expect(containerProblems('--dns=resolver.lan alpine')[0]).toMatch(/not an IP address/);
  });

  it('reads --pull policies', () => {
    for (const policy of ['always', 'missing', 'never', 'newer'] as const) expect(container(`--pull=${policy} alpine`).pull).toBe(policy);
    expect(containerProblems('--pull=sometimes alpine')[0]).toMatch(/not a pull policy/);
  });

  it('reads namespace modes for --network/--net, --pid, --ipc, --uts', () => {
    const spec = container('--network=none --pid=host --ipc private --uts=ns:/proc/1/ns/uts alpine');
    expect(spec).toMatchObject({ network: 'none', pid: 'host', ipc: 'private', uts: 'ns:/proc/1/ns/uts' });
    expect(container('--net host alpine').network).toBe('host');
    expect(containerProblems('--network=bridge alpine')[0]).toMatch(/unsupported mode 'bridge'/);
    expect(containerProblems('--pid=none alpine')[0]).toMatch(/unsupported mode 'none'/);
  });

  it('refuses --rm=false: a kept container could not be inspected', () => {
    expect(containerProblems('--rm=false alpine')).toEqual(['b2c.container #1: --rm: --rm=false: ocinit removes every container when it exits, nothing could inspect it afterwards']);
  });

  it('reads --security-opt: no-new-privileges acts, unconfined and SELinux labels are no-ops, the rest is refused', () => {
    expect(container('--security-opt no-new-privileges alpine').noNewPrivileges).toBe(true);
    expect(container('--security-opt=no-new-privileges:true --security-opt no-new-privileges=false alpine').noNewPrivileges).toBe(false);
    expect(container('--security-opt apparmor=unconfined --security-opt label=type:container_t alpine').securityOpt).toEqual(['apparmor=unconfined', 'label=type:container_t']);
    for (const option of ['seccomp=/etc/profile.json', 'apparmor=docker-default', 'unmask=ALL', 'mask=/proc/x', 'proc-opts=hidepid=2'])
      expect(containerProblems(`--security-opt ${option} alpine`)[0]).toMatch(new RegExp(`security option '${option.replace(/[./]/g, '\\$&')}' is not supported by ocinit`));
    expect(containerProblems('--security-opt no-new-privileges=maybe alpine')[0]).toMatch(/is not no-new-privileges\[=true\|false\]/);
  });

  it('reads --privileged, --rm and --init', () => {
    expect(container('--privileged --rm --rm=true --init alpine')).toMatchObject({ privileged: true, init: true });
    expect(container('--privileged=false alpine')).toMatchObject({ privileged: false });
  });

  it('reads --cap-add/--cap-drop, normalised to CAP_ names', () => {
    const spec = container('--cap-add=sys_admin,NET_ADMIN --cap-add CAP_SYS_PTRACE --cap-drop=ALL alpine');
    expect(spec.capAdd).toEqual(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE']);
    expect(spec.capDrop).toEqual(['ALL']);
    expect(containerProblems('--cap-add=sys-admin alpine')[0]).toMatch(/not a capability/);
  });

  it('reads --device with every combination of parts', () => {
    expect(container('--device /dev/kvm --device=/dev/dri/card0:/dev/dri/card1 --device /dev/ttyS0:r --device /dev/a:/dev/b:rw alpine').devices).toEqual([
      { hostPath: '/dev/kvm', containerPath: '/dev/kvm', permissions: 'rwm' },
      { hostPath: '/dev/dri/card0', containerPath: '/dev/dri/card1', permissions: 'rwm' },
      { hostPath: '/dev/ttyS0', containerPath: '/dev/ttyS0', permissions: 'r' },
      { hostPath: '/dev/a', containerPath: '/dev/b', permissions: 'rw' },
    ]);
    expect(containerProblems('--device kvm alpine')[0]).toMatch(/HOST\[:CONTAINER\]/);
  });

  it('reads --hostname/-h, --name and --platform', () => {
    expect(container('--hostname dut-1 --name tests --platform linux/arm64/v8 alpine')).toMatchObject({
      hostname: 'dut-1',
      name: 'tests',
      platform: 'linux/arm64/v8',
    });
    expect(container('-h box alpine').hostname).toBe('box');
    expect(containerProblems('--hostname under_score alpine')[0]).toMatch(/host name/);
    expect(containerProblems('--name "a b" alpine')[0]).toMatch(/container name/);
    expect(containerProblems('--platform amd64 alpine')[0]).toMatch(/OS\/ARCH/);
  });

  it('reads --creds into a secret and --authfile', () => {
    const spec = container('--creds ci:pa:ss:word --authfile /etc/auth.json alpine');
    expect(spec.creds?.username).toBe('ci');
    expect(spec.creds?.password.reveal()).toBe('pa:ss:word');
    expect(spec.authfile).toBe('/etc/auth.json');
    expect(containerProblems('--creds ci alpine')[0]).toMatch(/USER:PASSWORD/);
  });

  it('reads --security-opt and --ulimit', () => {
    const spec = container('--security-opt seccomp=unconfined --security-opt=label=disable --ulimit nofile=1024:4096 --ulimit core=-1 --ulimit memlock=unlimited alpine');
    expect(spec.securityOpt).toEqual(['seccomp=unconfined', 'label=disable']);
    expect(spec.ulimits).toEqual([
      { name: 'nofile', soft: 1024, hard: 4096 },
      { name: 'core', soft: -1, hard: -1 },
      { name: 'memlock', soft: -1, hard: -1 },
    ]);
    expect(containerProblems('--ulimit files=1 alpine')[0]).toMatch(/NAME=SOFT/);
  });

  it('reads sizes for --shm-size and --memory/-m, and --cpus', () => {
    expect(container('--shm-size=1g --memory 512m --cpus=1.5 alpine')).toMatchObject({ shmSize: 1024 ** 3, memory: 512 * 1024 ** 2, cpus: 1.5 });
    expect(container('-m 2G alpine').memory).toBe(2 * 1024 ** 3);
    expect(containerProblems('--memory lots alpine')[0]).toMatch(/not a size/);
    expect(containerProblems('--cpus 0 alpine')[0]).toMatch(/positive/);
  });

  it('names an unsupported flag and the container, with a suggestion for typos', () => {
    const [message] = containerProblems('--detach alpine');
    expect(message).toBe("b2c.container #1: unsupported flag '--detach'");
    expect(containerProblems('-x alpine')[0]).toMatch(/unsupported flag '-x'/);
    expect(containerProblems('-tx alpine')[0]).toMatch(/unsupported flag '-x'/);
  });

  it('reports a value flag left without its value', () => {
    expect(container('alpine -v').command).toEqual(['-v']);
    expect(containerProblems('--volume')[0]).toMatch(/--volume needs a value/);
    expect(containerProblems('-e')[0]).toMatch(/-e needs a value/);
  });

  it('lists every flag of the issue, with its short form where podman has one', () => {
    const names = CONTAINER_FLAGS.flatMap((flag) => flag.names);
    for (const name of [
      '-t', '--tty', '-i', '--interactive', '-e', '--env', '--env-file', '-v', '--volume', '--mount', '-w', '--workdir',
      '--entrypoint', '-u', '--user', '--tls-verify', '--dns', '--pull', '--network', '--net', '--privileged', '--cap-add',
      '--cap-drop', '--device', '--pid', '--ipc', '--uts', '--hostname', '--name', '--rm', '--platform', '--creds',
      '--authfile', '--security-opt', '--ulimit', '--tmpfs', '--init', '--shm-size', '--memory', '--cpus',
    ]) {
      expect(names).toContain(name);
    }
  });
});
