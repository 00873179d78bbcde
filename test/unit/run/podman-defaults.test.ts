// The expected texts are what podman 4.3.1 (Debian 12) wrote for the same inputs, copied from
// `podman run --privileged` on the host; test/integration/run/podman-environment.test.ts compares live.
import { describe, expect, it } from 'vitest';
import { mergeEnvironment } from '../../../src/run/env.ts';
import { containerEnvText, hostContainersAddress, hostnameText, hostsText, podmanEnvironment, resolvConfWithServers } from '../../../src/run/podman-defaults.ts';
import { initEnvironment } from '../../../src/run/switch-root.ts';

describe('podman environment', () => {
  it('sets TERM, container, PATH, HOME and HOSTNAME, every one of which the image and -e override', () => {
    expect(mergeEnvironment(podmanEnvironment('box', '/home/demo'))).toEqual([
      'TERM=xterm',
      'container=podman',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/home/demo',
      'HOSTNAME=box',
    ]);
    const image = [{ name: 'container', value: 'docker' }, { name: 'TERM', value: 'dumb' }, { name: 'HOME', value: '/custom' }];
    expect(mergeEnvironment(podmanEnvironment('box', '/root'), image, [{ name: 'container', value: 'x' }])).toEqual([
      'TERM=dumb',
      'container=x',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/custom',
      'HOSTNAME=box',
    ]);
  });

  it('gives a switch_root init the kernel\'s environment instead: no container=, HOME=/, TERM=linux', () => {
    const env = initEnvironment(['PATH=/bin', 'LANG=C.UTF-8'], [{ name: 'FROM_FILE', value: '1' }], [{ name: 'TERM', value: 'vt220' }]);
    expect(env).toEqual(['HOME=/', 'TERM=vt220', 'PATH=/bin', 'LANG=C.UTF-8', 'FROM_FILE=1']);
  });
});

describe('/run/.containerenv', () => {
  const identity = { engine: 'podman-4.3.1', name: 'vigorous_mcnulty', id: 'ab89', image: 'localhost/demo:1', imageId: '7f34' };

  it('names the engine, container and image for a privileged container, as podman does', () => {
    expect(containerEnvText({ ...identity, privileged: true })).toBe(
      'engine="podman-4.3.1"\nname="vigorous_mcnulty"\nid="ab89"\nimage="localhost/demo:1"\nimageid="7f34"\nrootless=0\n',
    );
  });

  it('is empty for an unprivileged container', () => {
    expect(containerEnvText({ ...identity, privileged: false })).toBe('');
  });
});

describe('/etc/hostname', () => {
  it('is the bare name without a newline', () => {
    expect(hostnameText('vm')).toBe('vm');
  });
});

describe('/etc/hosts', () => {
  it('normalises the launcher\'s entries, adds the missing localhost ones, host.containers.internal, then the hostname', () => {
    const base = '# comment\n10.1.1.1   foo  bar # trailing\n\n::1 ip6-localhost\n';
    expect(hostsText({ base, hostname: 'box', name: 'nm', hostAddress: '192.0.2.2' })).toBe(
      '10.1.1.1\tfoo bar\n::1\tip6-localhost\n127.0.0.1\tlocalhost\n::1\tlocalhost\n192.0.2.2\thost.containers.internal\n127.0.0.1\tbox nm\n',
    );
  });

  it('adds no localhost entry when the launcher names localhost at all, and works without a host address or a base file', () => {
    expect(hostsText({ base: '127.0.0.1 localhost\n', hostname: 'dut', name: 'container-1', hostAddress: undefined })).toBe('127.0.0.1\tlocalhost\n127.0.0.1\tdut container-1\n');
    expect(hostsText({ base: '', hostname: 'dut', name: 'dut', hostAddress: undefined })).toBe('127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\tdut\n');
  });

  it('names the machine\'s first global address as host.containers.internal: IPv4 first, never loopback or link-local', () => {
    const lo = [{ address: '127.0.0.1', family: 'IPv4', internal: true }];
    const eth = [
      { address: 'fe80::1', family: 'IPv6', internal: false },
      { address: '2001:db8::5', family: 'IPv6', internal: false },
    ];
    expect(hostContainersAddress({ lo, eth0: eth })).toBe('2001:db8::5');
    expect(hostContainersAddress({ lo, eth0: [...eth, { address: '10.0.2.15', family: 'IPv4', internal: false }] })).toBe('10.0.2.15');
    expect(hostContainersAddress({ lo })).toBeUndefined();
  });
});

describe('/etc/resolv.conf', () => {
  const base = 'search lab.example\nnameserver 10.0.2.3\noptions ndots:2\n';

  it('is the launcher\'s file, or with --dns its search and options around the given servers', () => {
    expect(resolvConfWithServers(base, [])).toBe(base);
    expect(resolvConfWithServers(base, ['1.2.3.4', '5.6.7.8'])).toBe('search lab.example\nnameserver 1.2.3.4\nnameserver 5.6.7.8\noptions ndots:2\n');
    expect(resolvConfWithServers('', ['1.2.3.4'])).toBe('nameserver 1.2.3.4\n');
  });
});
