import { describe, expect, it } from 'vitest';
import { parseRegistryArguments, type RegistryArguments } from '../../../src/cli/pull.ts';

function parsed(args: string[]): RegistryArguments {
  const result = parseRegistryArguments(args);
  if (typeof result === 'string') throw new Error(result);
  return result;
}

describe('ocinit pull/inspect arguments', () => {
  it('reads every registry flag in both --flag=value and --flag value forms', () => {
    const args = parsed([
      '--tls-verify=false',
      '--platform',
      'linux/aarch64',
      '--creds=bob:pa:ss',
      '--authfile',
      '/a.json',
      '--ca-file=/ca.pem',
      '--proxy',
      'http://proxy:3128',
      '--mirror',
      'docker.io=mirror.lab:5000/hub,insecure',
      '--mirror=docker.io=second.lab',
      '--store',
      '/var/cache/ocinit',
      '--max-size=1000',
      '--max-entries',
      '10',
      'alpine',
      '/rootfs',
    ]);
    expect(args.positional).toEqual(['alpine', '/rootfs']);
    expect(args.options.tlsVerify).toBe(false);
    expect(args.options.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(args.options.credentials?.username).toBe('bob');
    expect(args.options.credentials?.password.reveal()).toBe('pa:ss');
    expect([args.options.authfile, args.options.caFile, args.options.proxy, args.storeDir]).toEqual(['/a.json', '/ca.pem', { http: 'http://proxy:3128', https: 'http://proxy:3128' }, '/var/cache/ocinit']);
    expect(args.options.mirrors).toEqual({ 'docker.io': [{ location: 'mirror.lab:5000/hub', insecure: true }, { location: 'second.lab', insecure: false }] });
    expect(args.limits).toEqual({ maxBytes: 1000, maxEntries: 10 });
    expect(parsed(['--tls-verify', 'x']).options.tlsVerify).toBe(true);
  });

  it.each([
    [['--tls-verify=maybe'], '--tls-verify takes true or false'],
    [['--platform'], '--platform needs a value'],
    [['--mirror', 'nonsense'], "--mirror: 'nonsense' is not REGISTRY[/NAMESPACE]=HOST"],
    [['--max-size', '-1'], '--max-size takes a positive integer'],
    [['--frobnicate=1'], "unknown option '--frobnicate'"],
  ])('reports %j', (args, message) => {
    expect(parseRegistryArguments(args)).toContain(message);
  });
});
