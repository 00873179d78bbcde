import { describe, expect, it } from 'vitest';
import { mergeExtraArgs, parseCommandLine } from '../../../src/cmdline/index.ts';
import { mergeMirrorConfigs, mirrorConfigOf, mirrorsFor, parseMirrorEntry, type MirrorConfig } from '../../../src/oci/mirrors.ts';
import { parseReference } from '../../../src/reference/reference.ts';
import { parseRegistriesConf } from '../../../src/oci/registries-conf.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function config(text: string): MirrorConfig {
  const parsed = parseRegistriesConf(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

function where(mirrors: MirrorConfig, reference: string): string[] {
  return mirrorsFor(mirrors, parseReference(reference)).map(({ host, repository }) => `${host}/${repository}`);
}

describe('parseMirrorEntry', () => {
  it('reads a prefix, a location and the options', () => {
    expect(parseMirrorEntry('docker.io=10.42.0.1:5000/hub,insecure,pull-from-mirror=digest-only')).toEqual({
      prefix: 'docker.io',
      mirror: { location: '10.42.0.1:5000/hub', insecure: true, pullFromMirror: 'digest-only' },
    });
    expect(parseMirrorEntry('registry.lab:5000/team/=[::1]:6000/')).toEqual({ prefix: 'registry.lab:5000/team', mirror: { location: '[::1]:6000', insecure: false } });
  });

  it.each([
    ['nonsense', "'nonsense' is not REGISTRY"],
    ['docker.io=', "'' is not a mirror location"],
    ['docker.io=http://mirror', "'http://mirror' is not a mirror location"],
    ['docker.io=mirror,secure', "unknown mirror option 'secure'"],
    ['docker.io=mirror,pull-from-mirror=sometimes', 'pull-from-mirror takes all, digest-only, tag-only'],
    ['Not A Host=mirror', "'Not A Host' is not a registry"],
  ])('refuses %j', (text, message) => {
    expect(parseMirrorEntry(text)).toContain(message);
  });
});

describe('mirrorsFor', () => {
  const mirrors = mirrorConfigOf([
    { prefix: 'docker.io', mirror: { location: 'gw:5000/hub' } },
    { prefix: 'docker.io', mirror: { location: 'gw2:5000', pullFromMirror: 'digest-only' } },
    { prefix: 'docker.io/library', mirror: { location: 'official:5000/lib' } },
    { prefix: 'registry.lab:5000', mirror: { location: 'gw:5000', pullFromMirror: 'tag-only' } },
  ]);

  it('takes the longest matching prefix, in order, with the mirror path in place of the prefix', () => {
    expect(where(mirrors, 'docker.io/mesa/ci:1')).toEqual(['gw:5000/hub/mesa/ci']);
    expect(where(mirrors, 'alpine')).toEqual(['official:5000/lib/alpine']);
    expect(where(mirrors, `docker.io/mesa/ci@${DIGEST}`)).toEqual(['gw:5000/hub/mesa/ci', 'gw2:5000/mesa/ci']);
    expect(where(mirrors, 'quay.io/x/y')).toEqual([]);
    // A prefix matches whole path components only.
    expect(where(mirrorConfigOf([{ prefix: 'docker.io/lib', mirror: { location: 'm' } }]), 'docker.io/library/alpine')).toEqual([]);
  });

  it('keeps a tag-only mirror for tags and a digest-only one for digests', () => {
    expect(where(mirrors, 'registry.lab:5000/a:1')).toEqual(['gw:5000/a']);
    expect(where(mirrors, `registry.lab:5000/a@${DIGEST}`)).toEqual([]);
  });

  it('puts the command line after a file for the same prefix', () => {
    const merged = mergeMirrorConfigs({ 'docker.io': [{ location: 'file' }] }, { 'docker.io': [{ location: 'flag' }], 'quay.io': [{ location: 'q' }] });
    expect(merged).toEqual({ 'docker.io': [{ location: 'file' }, { location: 'flag' }], 'quay.io': [{ location: 'q' }] });
  });
});

describe('parseRegistriesConf', () => {
  it('reads registries, their mirrors and the options that matter to a pull', () => {
    const parsed = config(`
unqualified-search-registries = ["docker.io"]   # about short names: not ours
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "gw.lab:5000/hub"
insecure = true

[[registry.mirror]]
location = 'gw2.lab'
pull-from-mirror = "tag-only"

[[registry]]
location = "registry.lab:5000/team"
mirror-by-digest-only = true
[[registry.mirror]]
location = "gw.lab:5000/team" # the "team" mirror

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
`);
    expect(parsed).toEqual({
      'docker.io': [
        { location: 'gw.lab:5000/hub', insecure: true },
        { location: 'gw2.lab', insecure: false, pullFromMirror: 'tag-only' },
      ],
      'registry.lab:5000/team': [{ location: 'gw.lab:5000/team', insecure: false, pullFromMirror: 'digest-only' }],
    });
  });

  it.each([
    ['[[registry]]\nprefix = "a.io"\nlocation = "b.io"', 'line 1: a location (b.io) other than the prefix (a.io) rewrites the registry'],
    ['[[registry]]\nprefix = "a.io"\n[[registry.mirror]]\nlocation = "https://m"', "line 3: 'https://m' is not a mirror location"],
    ['[[registry.mirror]]\nlocation = "m"', 'line 1: [[registry.mirror]] before any [[registry]]'],
    ['[[registry]]\nprefix = "*.io"', 'wildcard prefixes are not supported'],
    ['[[registry]]\nprefix = "a.io"\nblocked = true', 'insecure and blocked on a [[registry]] are not supported'],
    ['[[registry]]\nprefix = "a.io"\n[[registry.mirror]]\nlocation = "m"\nsecure = true', 'line 5: secure in [[registry.mirror]] is not supported'],
    ['[[registry]]\nprefix = "a.io"\n[[registry.mirror]]\ninsecure = "yes"', 'line 4: insecure must be true or false'],
    ['[[registry]]\nprefix = "a.io"\n[[registry.mirror]]\nlocation = "m"\npull-from-mirror = "never"', 'pull-from-mirror takes all, digest-only, tag-only'],
    ['credential-helpers = ["x"]\nfoo = 1', "line 2: cannot read 'foo = 1'"],
    ['[registries.search]\nregistries = ["docker.io"]', 'line 1: [registries.search] is not supported'],
  ])('refuses %j', (text, message) => {
    expect(parseRegistriesConf(text)).toContain(message);
  });
});

describe('b2c.registry_mirror', () => {
  it('accumulates mirrors in order, also from the extra arguments', () => {
    const initial = parseCommandLine('b2c.registry_mirror=docker.io=10.42.0.1:5000/hub,insecure b2c.container=alpine', { env: {} });
    expect(initial.problems).toEqual([]);
    const merged = mergeExtraArgs(initial.plan, 'b2c.registry_mirror=docker.io=10.42.0.2:5000,pull-from-mirror=digest-only', { env: {} });
    expect(merged.problems).toEqual([]);
    expect(merged.tooLate).toEqual([]);
    expect(mirrorConfigOf(merged.plan.registryMirrors)).toEqual({
      'docker.io': [
        { location: '10.42.0.1:5000/hub', insecure: true },
        { location: '10.42.0.2:5000', insecure: false, pullFromMirror: 'digest-only' },
      ],
    });
  });

  it('refuses a malformed mirror naming the parameter', () => {
    const { problems } = parseCommandLine('b2c.registry_mirror=docker.io=mirror,secure', { env: {} });
    expect(problems.map((problem) => [problem.parameter, problem.message])).toEqual([['b2c.registry_mirror', "unknown mirror option 'secure' (known: insecure, pull-from-mirror=...)"]]);
  });
});
