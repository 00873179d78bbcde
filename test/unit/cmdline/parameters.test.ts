import { describe, expect, it } from 'vitest';
import { createDefaultPlan, formatPlan, formatProblem, parseCommandLine, PARAMETERS } from '../../../src/cmdline/index.ts';
import { ALL_FEATURES, invalid, valid } from './helpers.ts';

describe('parseCommandLine: general rules', () => {
  it('gives the documented defaults for an empty line', () => {
    const { plan, problems, warnings } = parseCommandLine('', { env: {} });
    expect(problems).toEqual([]);
    expect(warnings).toEqual([]);
    expect(plan).toEqual(createDefaultPlan());
    expect(plan.shutdown).toEqual({ poweroffDelaySeconds: 0, shutdownCommand: 'poweroff -f', rebootCommand: 'reboot -f' });
    expect(plan.hostname).toBe('boot2container');
    expect(plan.cacheDevice).toEqual({ kind: 'none' });
    expect(plan.ntpPeer).toEqual({ kind: 'none' });
  });

  it('ignores kernel and platform parameters silently', () => {
    const result = valid('console=ttyS0,115200 loglevel=6 SALAD.machine_id=b4:2e:99 initrd=/x net.ifnames=0 quiet earlyprintk=vga,keep extra=""');
    expect(result.warnings).toEqual([]);
    expect(result.plan).toEqual(createDefaultPlan());
  });

  it('warns about unknown b2c.* parameters, naming them and the likely one', () => {
    const result = valid('b2c.pipfail b2c.contaner=alpine b2c.whatever=1');
    expect(result.warnings.map((warning) => [warning.parameter, warning.position, warning.hint])).toEqual([
      ['b2c.pipfail', 0, "did you mean 'b2c.pipefail'?"],
      ['b2c.contaner', 1, "did you mean 'b2c.container'?"],
      ['b2c.whatever', 2, 'see docs/cmdline.md for the parameters ocinit knows'],
    ]);
    expect(result.plan.pipefail).toBe(false);
    expect(result.plan.containers).toEqual([]);
  });

  it('keeps the last occurrence of single-value parameters, ignoring earlier bad ones', () => {
    const { plan } = valid('b2c.hostname=first b2c.ntp_peer=not/valid b2c.hostname=second b2c.ntp_peer=auto');
    expect(plan.hostname).toBe('second');
    expect(plan.ntpPeer).toEqual({ kind: 'auto' });
  });

  it('accumulates repeatable parameters in order, aliases included', () => {
    const { plan } = valid('b2c.container=a b2c.run=b b2c.container=c b2c.service=s1 b2c.run_service=s2 b2c.post_container=p');
    expect(plan.containers.map((spec) => [spec.image, spec.index, spec.parameter])).toEqual([
      ['a', 1, 'b2c.container'],
      ['b', 2, 'b2c.container'],
      ['c', 3, 'b2c.container'],
    ]);
    expect(plan.services.map((spec) => spec.image)).toEqual(['s1', 's2']);
    expect(plan.postContainers.map((spec) => spec.image)).toEqual(['p']);
  });

  it('names the parameter as written when an alias has a problem', () => {
    const [problem] = invalid('b2c.run_service="--bogus docker://x"');
    expect(problem).toMatchObject({ parameter: 'b2c.run_service', message: "b2c.service #1: unsupported flag '--bogus'" });
  });

  it('reports a value parameter written without a value, with an example', () => {
    const [problem] = invalid('b2c.container b2c.hostname');
    expect(problem).toMatchObject({ parameter: 'b2c.container', position: 0, message: 'b2c.container needs a value' });
    expect(problem?.hint).toMatch(/^e\.g\. b2c\.container=/);
  });

  it('reports an unclosed quote, naming the token', () => {
    const problems = invalid('b2c.hostname=x b2c.container="-ti alpine sh');
    expect(problems[0]).toMatchObject({ parameter: 'b2c.container', position: 1 });
    expect(problems[0]?.message).toMatch(/never closed/);
  });

  it('lists every problem of a line, not just the first', () => {
    const problems = invalid('b2c.poweroff_delay=soon b2c.container="--bogus alpine" b2c.hostname=-bad- b2c.cache_device=C:');
    expect(problems.map((problem) => problem.parameter)).toEqual(['b2c.poweroff_delay', 'b2c.container', 'b2c.hostname', 'b2c.cache_device']);
    expect(problems.map((problem) => problem.position)).toEqual([0, 1, 2, 3]);
  });

  it('formats a problem with parameter, position, reason and hint', () => {
    const [problem] = invalid('console=ttyS0 b2c.poweroff_delay=soon');
    expect(problem === undefined ? '' : formatProblem(problem)).toBe(
      "b2c.poweroff_delay (token 1): 'soon' is not a number of seconds\n  hint: e.g. b2c.poweroff_delay=15",
    );
  });

  it('has one definition per parameter name and alias', () => {
    const names = PARAMETERS.flatMap((definition) => [definition.name, ...definition.aliases]);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ['b2c.container', 'b2c.run', 'b2c.service', 'b2c.run_service', 'b2c.post_container', 'ip', 'b2c.debug_crash'])
      expect(names).toContain(name);
  });

  it('parses the example of every definition without a problem (or a cross-reference one only)', () => {
    for (const definition of PARAMETERS) {
      const result = parseCommandLine(definition.example, { env: {}, features: ALL_FEATURES });
      const own = result.problems.filter((problem) => !/no b2c\.(filesystem|minio)/.test(problem.message));
      expect(own, definition.name).toEqual([]);
    }
  });
});

describe('single parameters', () => {
  it('b2c.pipefail: bare, or with a boolean', () => {
    expect(valid('b2c.pipefail').plan.pipefail).toBe(true);
    expect(valid('b2c.pipefail=false').plan.pipefail).toBe(false);
    expect(valid('b2c.pipefail=1').plan.pipefail).toBe(true);
    expect(invalid('b2c.pipefail=sometimes')[0]?.parameter).toBe('b2c.pipefail');
  });

  it('b2c.poweroff_delay: seconds', () => {
    expect(valid('b2c.poweroff_delay=15').plan.shutdown.poweroffDelaySeconds).toBe(15);
    expect(valid('b2c.poweroff_delay=0.5').plan.shutdown.poweroffDelaySeconds).toBe(0.5);
    expect(invalid('b2c.poweroff_delay=-1')[0]?.message).toMatch(/number of seconds/);
    expect(invalid('b2c.poweroff_delay=')[0]?.message).toMatch(/number of seconds/);
  });

  it('b2c.shutdown_cmd and b2c.reboot_cmd: commands with blanks', () => {
    const { plan } = valid('b2c.shutdown_cmd="echo o > /proc/sysrq-trigger" b2c.reboot_cmd="reboot -f -d 1"');
    expect(plan.shutdown).toEqual({ poweroffDelaySeconds: 0, shutdownCommand: 'echo o > /proc/sysrq-trigger', rebootCommand: 'reboot -f -d 1' });
    expect(invalid('b2c.shutdown_cmd=""')[0]?.message).toBe('needs a value');
  });

  it('b2c.cache_device: every form', () => {
    expect(valid('b2c.cache_device=auto').plan.cacheDevice).toEqual({ kind: 'auto' });
    expect(valid('b2c.cache_device=reset').plan.cacheDevice).toEqual({ kind: 'reset' });
    expect(valid('b2c.cache_device=none').plan.cacheDevice).toEqual({ kind: 'none' });
    expect(valid('b2c.cache_device=/dev/nvme0n1p3').plan.cacheDevice).toEqual({ kind: 'device', path: '/dev/nvme0n1p3' });
    expect(valid('b2c.filesystem=nfscache,src=10.0.0.1:/c,type=nfs b2c.cache_device=nfscache').plan.cacheDevice).toEqual({
      kind: 'filesystem',
      name: 'nfscache',
    });
    expect(invalid('b2c.cache_device=nothere')[0]?.message).toMatch(/nor a defined b2c.filesystem/);
    expect(invalid('b2c.cache_device=/dev/')[0]?.parameter).toBe('b2c.cache_device');
  });

  it('b2c.swap: sizes with units and swappiness, or a device', () => {
    expect(valid('b2c.swap=8g').plan.swap).toEqual({ size: 8 * 1024 ** 3 });
    expect(valid('b2c.swap=8G,swappiness=60').plan.swap).toEqual({ size: 8 * 1024 ** 3, swappiness: 60 });
    expect(valid('b2c.swap=512M').plan.swap).toEqual({ size: 512 * 1024 ** 2 });
    expect(valid('b2c.swap=1GiB').plan.swap).toEqual({ size: 1024 ** 3 });
    expect(valid('b2c.swap=/dev/nbd1').plan.swap).toEqual({ device: '/dev/nbd1' });
    expect(valid('b2c.swap=8g b2c.swap=').plan.swap).toBeUndefined();
    expect(invalid('b2c.swap=big')[0]?.message).toMatch(/not a size/);
    expect(invalid('b2c.swap=8G,swappiness=300')[0]?.message).toMatch(/swappiness/);
    expect(invalid('b2c.swap=8G,priority=1')[0]?.message).toMatch(/swappiness/);
  });

  it('b2c.ntp_peer: none, auto, a name or an address', () => {
    expect(valid('b2c.ntp_peer=none').plan.ntpPeer).toEqual({ kind: 'none' });
    expect(valid('b2c.ntp_peer=auto').plan.ntpPeer).toEqual({ kind: 'auto' });
    expect(valid('b2c.ntp_peer=ci-gateway').plan.ntpPeer).toEqual({ kind: 'host', host: 'ci-gateway' });
    expect(valid('b2c.ntp_peer="10.42.0.1"').plan.ntpPeer).toEqual({ kind: 'host', host: '10.42.0.1' });
    expect(invalid('b2c.ntp_peer=http://x')[0]?.parameter).toBe('b2c.ntp_peer');
  });

  it('b2c.insmods: comma list, in order', () => {
    expect(valid('b2c.insmods=a.ko,kernel/b.ko,,c.ko').plan.modules).toEqual(['a.ko', 'kernel/b.ko', 'c.ko']);
    expect(invalid('b2c.insmods=../../etc/x.ko')[0]?.message).toMatch(/invalid module/);
  });

  it('b2c.hostname: valid host names only', () => {
    expect(valid('b2c.hostname=dut-42').plan.hostname).toBe('dut-42');
    expect(invalid('b2c.hostname=dut_42')[0]?.parameter).toBe('b2c.hostname');
    expect(invalid(`b2c.hostname=${'a'.repeat(65)}`)[0]?.parameter).toBe('b2c.hostname');
  });

  it('b2c.keymap, b2c.extra_args_url, b2c.proxy: optional strings, empty unsets', () => {
    const { plan } = valid('b2c.keymap=us b2c.extra_args_url=http://10.42.0.1:8000/args b2c.proxy=http://10.42.0.1:3128');
    expect([plan.keymap, plan.extraArgsUrl, plan.proxy]).toEqual(['us', 'http://10.42.0.1:8000/args', { http: 'http://10.42.0.1:3128', https: 'http://10.42.0.1:3128' }]);
    expect(valid('b2c.keymap=us b2c.keymap=').plan.keymap).toBeUndefined();
    // One typed form whatever the spelling: per scheme (CI-tron's https=URL), later pairs override.
    expect(valid('b2c.proxy="https=http://10.42.0.1:8080"').plan.proxy).toEqual({ http: undefined, https: 'http://10.42.0.1:8080' });
    expect(valid('b2c.proxy=https=http://p:1,http=http://q:2').plan.proxy).toEqual({ http: 'http://q:2', https: 'http://p:1' });
    expect(valid('b2c.proxy=all=http://p:1,http=http://q:2').plan.proxy).toEqual({ http: 'http://q:2', https: 'http://p:1' });
    const ftp = valid('b2c.proxy=ftp=http://f:1,https=http://p:1');
    expect(ftp.plan.proxy).toEqual({ http: undefined, https: 'http://p:1' });
    expect(ftp.warnings[0]?.message).toMatch(/ocinit fetches nothing over FTP/);
    expect(valid('b2c.proxy=http://p:1 b2c.proxy=').plan).toMatchObject({ proxy: undefined });
    expect(invalid('b2c.extra_args_url=ftp://x/args')[0]?.parameter).toBe('b2c.extra_args_url');
    expect(invalid('b2c.proxy=gopher=http://x')[0]?.parameter).toBe('b2c.proxy');
    expect(invalid('b2c.keymap=../x')[0]?.parameter).toBe('b2c.keymap');
  });

  it('b2c.keymap: only the kernel\'s us keymap, any other is refused with the reason', () => {
    expect(invalid('b2c.keymap=fr').map(formatProblem)).toEqual([
      "b2c.keymap (token 0): keymap 'fr' is not available: ocinit carries no console keymaps (its console is the serial line, where the terminal's own keymap applies)\n  hint: drop b2c.keymap, or write b2c.keymap=us (the kernel default)",
    ]);
  });

  it('b2c.storage: additional image stores on defined filesystems', () => {
    const { plan } = valid('b2c.filesystem=publicimgstore,src=10.42.0.1:/images,type=nfs b2c.storage="additionalimagestores=publicimgstore"');
    expect(plan.additionalImageStores).toEqual(['publicimgstore']);
    expect(invalid('b2c.storage=additionalimagestores=missing')[0]?.message).toMatch(/no b2c.filesystem named 'missing'/);
    expect(invalid('b2c.storage=graphroot=/x')[0]?.message).toMatch(/additionalimagestores=/);
  });

  it('b2c.debug_crash: exception or kill', () => {
    expect(valid('b2c.debug_crash=kill').plan.debugCrash).toBe('kill');
    expect(valid('b2c.debug_crash=exception').plan.debugCrash).toBe('exception');
    expect(invalid('b2c.debug_crash=panic')[0]?.parameter).toBe('b2c.debug_crash');
  });
});

describe('container numbering in messages', () => {
  it('counts rejected containers, so #N is the N-th of its parameter in the line', () => {
    const problems = invalid('b2c.container="--bad1 a" b2c.post_container=p b2c.container=ok b2c.container="--bad3 c"');
    expect(problems.map((problem) => problem.message)).toEqual([
      "b2c.container #1: unsupported flag '--bad1'",
      "b2c.container #3: unsupported flag '--bad3'",
    ]);
  });
});

describe('b2c.signatures', () => {
  it('takes policy or required, nothing that could widen the built-in policy', async () => {
    const { parseCommandLine } = await import('../../../src/cmdline/parse.ts');
    expect(parseCommandLine('b2c.signatures=required', { env: {} }).plan.signatures).toBe('required');
    expect(parseCommandLine('', { env: {} }).plan.signatures).toBe('policy');
    const refused = parseCommandLine('b2c.signatures=none', { env: {} });
    expect(refused.problems.map((problem) => problem.message)).toEqual([expect.stringContaining("'none' is not policy or required")]);
  });
});

describe('b2c.signatures', () => {
  it('takes policy or required, nothing that could widen the built-in policy', () => {
    expect(parseCommandLine('b2c.signatures=required', { env: {} }).plan.signatures).toBe('required');
    expect(parseCommandLine('', { env: {} }).plan.signatures).toBe('policy');
    const refused = parseCommandLine('b2c.signatures=none', { env: {} });
    expect(refused.problems.map((problem) => formatProblem(problem))).toEqual([expect.stringContaining("'none' is not policy or required")]);
  });
});

describe('b2c.tpm and b2c.tpm_pcr', () => {
  it('default to measuring into PCR 15 when a TPM exists; refuse anything else', () => {
    expect(parseCommandLine('', { env: {} }).plan).toMatchObject({ tpm: 'auto', tpmPcr: 15 });
    expect(parseCommandLine('b2c.tpm=required b2c.tpm_pcr=14', { env: {} }).plan).toMatchObject({ tpm: 'required', tpmPcr: 14 });
    expect(formatPlan(parseCommandLine('b2c.signatures=required b2c.tpm=required b2c.tpm_pcr=14', { env: {} }).plan)).toContain(
      'Signatures: required (the built-in policy, and nothing accepted unsigned); TPM: required, PCR 14',
    );
    expect(formatPlan(parseCommandLine('b2c.tpm=off', { env: {} }).plan)).toContain('Signatures: as the built-in policy says; TPM: off');
    expect(parseCommandLine('b2c.tpm=yes b2c.tpm_pcr=24', { env: {} }).problems.map((problem) => formatProblem(problem))).toEqual([
      expect.stringContaining("'yes' is not auto, required or off"),
      expect.stringContaining("'24' is not a PCR number (0-23)"),
    ]);
  });
});

describe('pipeline output and shutdown parameters', () => {
  it('b2c.service_output: file by default, console on request, anything else refused with an example', () => {
    expect(valid('').plan.serviceOutput).toBe('file');
    expect(valid('b2c.service_output=console').plan.serviceOutput).toBe('console');
    const [problem] = invalid('b2c.service_output=serial');
    expect(problem?.hint).toBe('e.g. b2c.service_output=console');
  });

  it('b2c.poweroff_delay takes a fraction of a second, as boot2container passed it to sleep', () => {
    expect(valid('b2c.poweroff_delay=0.5').plan.shutdown.poweroffDelaySeconds).toBe(0.5);
  });
});

describe('b2c.image_format', () => {
  it('is tree by default; erofs and tree are taken, anything else refused with a hint', () => {
    expect(createDefaultPlan().imageFormat).toBe('tree');
    expect(valid('b2c.image_format=erofs').plan.imageFormat).toBe('erofs');
    expect(valid('b2c.image_format=erofs b2c.image_format=tree').plan.imageFormat).toBe('tree');
    const problems = invalid('b2c.image_format=squashfs');
    expect(problems.map((problem) => [problem.parameter, problem.message, problem.hint])).toEqual([['b2c.image_format', "'squashfs' is not tree or erofs", 'e.g. b2c.image_format=erofs']]);
  });
});
