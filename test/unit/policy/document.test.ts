import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePolicy, PolicyError } from '../../../src/policy/document.ts';

const PUBLIC_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

function refusal(document: unknown): PolicyError {
  try {
    parsePolicy(JSON.stringify(document), 'policy.json');
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error('the policy was accepted');
}

describe('policy.json parsing', () => {
  it('reads the default, docker scopes and every key form', () => {
    const policy = parsePolicy(
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: {
            'registry.lab:5000/ci': [{ type: 'sigstoreSigned', keyPath: 'keys/ci.pub', signedIdentity: { type: 'matchRepository' } }],
            'registry.lab:5000/ci/tools': [{ type: 'sigstoreSigned', keyPaths: ['/a.pub', '/b.pub'] }],
            'docker.io/library/alpine': [{ type: 'sigstoreSigned', keyData: Buffer.from(PUBLIC_PEM).toString('base64'), signedIdentity: { type: 'remapIdentity', prefix: 'docker.io', signedPrefix: 'mirror.lab/hub' } }],
            '*.example.com': [{ type: 'insecureAcceptAnything' }],
            '': [{ type: 'reject' }],
          },
          'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
        },
      }),
      'policy.json',
    );
    expect(policy.default).toEqual([{ type: 'reject' }]);
    expect([...policy.docker.keys()]).toEqual(['registry.lab:5000/ci', 'registry.lab:5000/ci/tools', 'docker.io/library/alpine', '*.example.com', '']);
    expect(policy.docker.get('registry.lab:5000/ci')).toEqual([
      { type: 'sigstoreSigned', keys: [{ kind: 'path', path: 'keys/ci.pub', field: 'transports.docker["registry.lab:5000/ci"][0].keyPath' }], signedIdentity: { type: 'matchRepository' }, field: 'transports.docker["registry.lab:5000/ci"][0]' },
    ]);
    const tools = policy.docker.get('registry.lab:5000/ci/tools')?.[0];
    expect(tools?.type === 'sigstoreSigned' && tools.keys.map((key) => key.kind === 'path' && key.path)).toEqual(['/a.pub', '/b.pub']);
    expect(tools?.type === 'sigstoreSigned' && tools.signedIdentity).toEqual({ type: 'matchRepoDigestOrExact' });
    const alpine = policy.docker.get('docker.io/library/alpine')?.[0];
    expect(alpine?.type === 'sigstoreSigned' && alpine.keys[0]?.kind === 'data' && alpine.keys[0].pem.toString()).toBe(PUBLIC_PEM);
  });

  it.each([
    [{ transports: {} }, 'default', 'missing'],
    [{ default: [] }, 'default', 'empty list'],
    [{ default: [{ type: 'reject' }], extra: 1 }, 'extra', 'unknown field'],
    [{ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }] }, 'default[0].type', 'signedBy'],
    [{ default: [{ type: 'accept' }] }, 'default[0].type', 'unknown requirement type'],
    [{ default: [{ type: 'reject', keyPath: '/x' }] }, 'default[0].keyPath', 'unknown field'],
    [{ default: [{ type: 'sigstoreSigned' }] }, 'default[0]', 'needs one of keyPath'],
    [{ default: [{ type: 'sigstoreSigned', keyPath: '/a', keyData: 'AAAA' }] }, 'default[0]', 'only one of keyPath, keyData'],
    [{ default: [{ type: 'sigstoreSigned', keyPaths: [] }] }, 'default[0].keyPaths', 'non-empty list'],
    [{ default: [{ type: 'sigstoreSigned', keyData: 'not base64!' }] }, 'default[0].keyData', 'base64'],
    [{ default: [{ type: 'sigstoreSigned', fulcio: { caPath: '/ca' } }] }, 'default[0].fulcio', 'not supported'],
    [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', rekorPublicKeyPath: '/r' }] }, 'default[0].rekorPublicKeyPath', 'not supported'],
    [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'matchAnything' } }] }, 'default[0].signedIdentity.type', 'unknown signedIdentity'],
    [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'exactReference', dockerReference: 'registry.lab/app' } }] }, 'default[0].signedIdentity.dockerReference', 'needs a tag or a digest'],
    [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'exactRepository', dockerRepository: 'registry.lab/app:1' } }] }, 'default[0].signedIdentity.dockerRepository', 'without a tag'],
    [{ default: [{ type: 'sigstoreSigned', keyPath: '/k', signedIdentity: { type: 'remapIdentity', prefix: 'docker.io' } }] }, 'default[0].signedIdentity.signedPrefix', 'non-empty string'],
    [{ default: [{ type: 'reject' }], transports: { dockr: { '': [{ type: 'reject' }] } } }, 'transports.dockr', 'unknown transport'],
    [{ default: [{ type: 'reject' }], transports: { docker: { alpine: [{ type: 'reject' }] } } }, 'transports.docker["alpine"]', 'fully qualified'],
    [{ default: [{ type: 'reject' }], transports: { docker: { 'docker.io/alpine': [{ type: 'reject' }] } } }, 'transports.docker["docker.io/alpine"]', 'docker.io/library/alpine'],
    [{ default: [{ type: 'reject' }], transports: { docker: { 'registry.lab/App': [{ type: 'reject' }] } } }, 'transports.docker["registry.lab/App"]', 'invalid repository path'],
    // A scope of a transport ocinit never pulls from is still checked whole.
    [{ default: [{ type: 'reject' }], transports: { 'docker-daemon': { '': [{ type: 'signedBy' }] } } }, 'transports.docker-daemon[""][0].type', 'signedBy'],
  ])('refuses %j whole, naming the field', (document, field, reason) => {
    const error = refusal(document);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`policy policy.json: ${field}: `);
    expect(error.message).toContain(reason);
  });

  it('refuses text that is not JSON', () => {
    expect(() => parsePolicy('{"default": [', 'p.json')).toThrow(/policy p.json: not JSON/);
  });
});
