import { describe, expect, it } from 'vitest';
import { formatPlan, formatProblem } from '../../../src/cmdline/index.ts';
import { valid } from './helpers.ts';

describe('formatPlan', () => {
  const line = [
    'b2c.insmods=a.ko,b.ko b2c.cache_device=auto b2c.swap=1g,swappiness=10 b2c.ntp_peer=auto',
    'b2c.iface=eth0,address=10.0.0.2/24,gateway=10.0.0.1,nameserver=10.0.0.1,route=10.1.0.0/16:10.0.0.254,forward',
    'b2c.hostname=dut-9 b2c.keymap=us b2c.proxy=http://10.0.0.1:3128',
    'b2c.filesystem=fs1,src=/dev/sdb1,type=ext4,opts=noatime b2c.minio=gw,http://10.0.0.1:9000,FMT-ACCESS-1,FMT-SECRET-1',
    'b2c.volume=res,mirror=gw/bucket,pull_on=pipeline_start,push_on=changes,overwrite,exclude=*.o',
    'b2c.service="--name mon docker://mon:1" b2c.pipefail b2c.container="-ti -v res:/res docker://job:1 run \'a b\'"',
    'b2c.post_container="docker://reaper:1" b2c.poweroff_delay=5 b2c.reboot_cmd="reboot -f -n"',
  ].join(' ');
  const text = formatPlan(valid(line).plan);

  it('shows each phase in boot order', () => {
    const order = ['Modules:', 'Cache device:', 'Network:', 'NTP peer:', 'Hostname:', 'Filesystems:', 'MinIO aliases:', 'Volumes:', 'Services:', 'Containers', 'Post containers:', 'Shutdown:'];
    const indexes = order.map((heading) => text.indexOf(heading));
    expect(indexes.every((index) => index >= 0)).toBe(true);
    expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
  });

  it('describes each setting in words an operator reads', () => {
    expect(text).toContain('Modules: a.ko, b.ko');
    expect(text).toContain('Cache device: auto; swap: 1073741824 bytes, swappiness 10');
    expect(text).toContain('eth0: static, 10.0.0.2/24, gateway 10.0.0.1, dns 10.0.0.1, route 10.1.0.0/16 via 10.0.0.254, forwarding');
    expect(text).toContain('Hostname: dut-9; keymap: us; proxy: http://10.0.0.1:3128');
    expect(text).toContain('fs1: /dev/sdb1 (ext4) opts noatime');
    expect(text).toContain('gw: http://10.0.0.1:9000 (keys ***)');
    expect(text).toContain('res: expiration never, pull from gw/bucket on pipeline_start, push to gw/bucket on changes, overwrite, exclude *.o');
    expect(text).toContain('b2c.service #1: mon:1');
    expect(text).toContain('Containers (pipefail: stop at the first failure):');
    expect(text).toContain('    command: "run" "a b"');
    expect(text).toContain('Shutdown: poweroff -f after 5 s; reboot: reboot -f -n');
    expect(text).not.toContain('FMT-SECRET-1');
  });

  it('shows only the container settings a flag changed', () => {
    const containerLines = text.split('\n').filter((entry) => entry.startsWith('      '));
    expect(containerLines).toContain('      name: "mon"');
    expect(containerLines).toContain('      tty: true');
    expect(containerLines.some((entry) => entry.includes('privileged'))).toBe(false);
  });

  it('describes the default network and an empty pipeline', () => {
    const empty = formatPlan(valid('').plan);
    expect(empty).toContain('DHCP on every eth*/en* interface');
    expect(empty).toContain('Nothing to run: no b2c.container nor b2c.post_container.');
    expect(formatPlan(valid('ip=10.0.0.5::10.0.0.1:255.255.255.0::eth1:off').plan)).toContain(
      'ip= static 10.0.0.5/255.255.255.0 on eth1, gateway 10.0.0.1',
    );
  });
});

describe('formatProblem', () => {
  it('omits the position when a problem has none and says when it came from extra arguments', () => {
    expect(formatProblem({ parameter: 'b2c.volume', position: -1, message: 'm' })).toBe('b2c.volume: m');
    expect(formatProblem({ parameter: 'b2c.run', position: 3, message: 'm', hint: 'h', origin: 'extra_args' })).toBe(
      'b2c.run (extra arguments, token 3): m\n  hint: h',
    );
  });
});
