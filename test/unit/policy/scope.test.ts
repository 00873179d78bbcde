import { describe, expect, it } from 'vitest';
import { parseReference } from '../../../src/reference/reference.ts';
import { parsePolicy } from '../../../src/policy/document.ts';
import { identityMatches, requirementsFor, scopesFor } from '../../../src/policy/scope.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('scopes', () => {
  it('lists the scopes of a reference from the most specific to the transport default', () => {
    expect(scopesFor(parseReference('registry.lab.example.com/ci/tools/app:1'))).toEqual([
      'registry.lab.example.com/ci/tools/app:1',
      'registry.lab.example.com/ci/tools/app',
      'registry.lab.example.com/ci/tools',
      'registry.lab.example.com/ci',
      'registry.lab.example.com',
      '*.lab.example.com',
      '*.example.com',
      '*.com',
      '',
    ]);
    expect(scopesFor(parseReference(`127.0.0.1:5000/app@${DIGEST}`))).toEqual([`127.0.0.1:5000/app@${DIGEST}`, '127.0.0.1:5000/app', '127.0.0.1:5000', '']);
    expect(scopesFor(parseReference('alpine'))[1]).toBe('docker.io/library/alpine');
  });

  it('takes the most specific scope naming the image, else the default', () => {
    const policy = parsePolicy(
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: { docker: { 'registry.lab/ci': [{ type: 'insecureAcceptAnything' }], 'registry.lab/ci/app:dev': [{ type: 'reject' }], '*.lab': [{ type: 'reject' }] } },
      }),
      'p',
    );
    expect(requirementsFor(policy, parseReference('registry.lab/ci/app:1'))).toEqual({ scope: 'transports.docker["registry.lab/ci"]', requirements: [{ type: 'insecureAcceptAnything' }] });
    expect(requirementsFor(policy, parseReference('registry.lab/ci/app:dev')).scope).toBe('transports.docker["registry.lab/ci/app:dev"]');
    expect(requirementsFor(policy, parseReference('registry.lab/other:1')).scope).toBe('transports.docker["*.lab"]');
    expect(requirementsFor(policy, parseReference('quay.io/x:1')).scope).toBe('default');
  });
});

describe('signedIdentity', () => {
  const ref = parseReference;
  it.each([
    ['matchRepoDigestOrExact', 'registry.lab/app:1', 'registry.lab/app:1', true],
    ['matchRepoDigestOrExact', 'registry.lab/app:1', 'registry.lab/app:2', false],
    ['matchRepoDigestOrExact', 'registry.lab/app:1', 'registry.lab/app', false],
    ['matchRepoDigestOrExact', `registry.lab/app@${DIGEST}`, 'registry.lab/app:anything', true],
    ['matchRepoDigestOrExact', `registry.lab/app@${DIGEST}`, 'registry.lab/other:1', false],
    ['matchRepoDigestOrExact', 'alpine', 'docker.io/library/alpine:latest', true],
    ['matchExact', 'registry.lab/app:1', 'registry.lab/app:1', true],
    ['matchExact', `registry.lab/app@${DIGEST}`, 'registry.lab/app:1', false],
    ['matchRepository', 'registry.lab/app:1', 'registry.lab/app', true],
    ['matchRepository', 'registry.lab/app:1', 'registry.lab/app2:1', false],
  ] as const)('%s: image %s, signature for %s → %s', (type, intended, signed, expected) => {
    expect(identityMatches({ type }, ref(intended), ref(signed))).toBe(expected);
  });

  it('exactReference and exactRepository ignore the image name; remapIdentity rewrites its prefix', () => {
    expect(identityMatches({ type: 'exactReference', dockerReference: 'registry.lab/app:release' }, ref('mirror.lab/x:1'), ref('registry.lab/app:release'))).toBe(true);
    expect(identityMatches({ type: 'exactReference', dockerReference: 'registry.lab/app:release' }, ref('mirror.lab/x:1'), ref('registry.lab/app:dev'))).toBe(false);
    expect(identityMatches({ type: 'exactRepository', dockerRepository: 'registry.lab/app' }, ref('mirror.lab/x:1'), ref('registry.lab/app:dev'))).toBe(true);
    const remap = { type: 'remapIdentity', prefix: 'mirror.lab/hub', signedPrefix: 'docker.io' } as const;
    expect(identityMatches(remap, ref('mirror.lab/hub/library/alpine:3'), ref('docker.io/library/alpine:3'))).toBe(true);
    expect(identityMatches(remap, ref('mirror.lab/hub/library/alpine:3'), ref('mirror.lab/hub/library/alpine:3'))).toBe(false);
    // The prefix ends at a component boundary: mirror.lab/hubx is not under mirror.lab/hub.
    expect(identityMatches(remap, ref('mirror.lab/hubx/alpine:3'), ref('docker.io/x/alpine:3'))).toBe(false);
    expect(identityMatches(remap, ref('mirror.lab/hubx/alpine:3'), ref('mirror.lab/hubx/alpine:3'))).toBe(true);
  });
});
