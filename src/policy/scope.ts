// Which of a policy's requirements apply to an image, and whether a signature's claimed identity
// fits the image asked for: containers/image's rules for the docker transport. Pure.
import { parseReference, type ImageReference } from '../reference/reference.ts';
import type { Policy, Requirement, SignedIdentity } from './document.ts';

/** The scopes that may name `reference`, most specific first (containers/image's order). */
export function scopesFor(reference: ImageReference): string[] {
  const name = `${reference.registry}/${reference.repository}`;
  const scopes: string[] = [];
  if (reference.digest !== undefined) scopes.push(`${name}@${reference.digest}`);
  if (reference.tag !== undefined) scopes.push(`${name}:${reference.tag}`);
  const components = name.split('/');
  for (let length = components.length; length >= 1; length--) scopes.push(components.slice(0, length).join('/'));
  if (!reference.registry.includes(':') && !reference.registry.startsWith('[')) {
    const labels = reference.registry.split('.');
    for (let start = 1; start < labels.length; start++) scopes.push(`*.${labels.slice(start).join('.')}`);
  }
  scopes.push('');
  return scopes;
}

export interface Applicable<Key> {
  /** `transports.docker["SCOPE"]` or `default`, for messages. */
  scope: string;
  requirements: Requirement<Key>[];
}

/** The requirements of the most specific scope naming the image, else the policy's default. */
export function requirementsFor<Key>(policy: Policy<Key>, reference: ImageReference): Applicable<Key> {
  for (const scope of scopesFor(reference)) {
    const requirements = policy.docker.get(scope);
    if (requirements !== undefined) return { scope: `transports.docker[${JSON.stringify(scope)}]`, requirements };
  }
  return { scope: 'default', requirements: policy.default };
}

function repositoryOf(reference: ImageReference): string {
  return `${reference.registry}/${reference.repository}`;
}

/** The reference as containers/image prints it: name with tag, or with digest (a digest wins). */
function exactForm(reference: ImageReference): string {
  const name = repositoryOf(reference);
  if (reference.digest !== undefined) return `${name}@${reference.digest}`;
  return `${name}:${reference.tag ?? 'latest'}`;
}

function matchRepoDigestOrExact(intended: ImageReference, signed: ImageReference): boolean {
  if (intended.digest !== undefined) return repositoryOf(intended) === repositoryOf(signed);
  return exactForm(intended) === exactForm(signed);
}

/**
 * `text` with `prefix` replaced by `signedPrefix` when the prefix ends at a component boundary
 * (remapIdentity), else undefined.
 */
function remap(text: string, prefix: string, signedPrefix: string): string | undefined {
  if (!text.startsWith(prefix)) return undefined;
  const next = text.charAt(prefix.length);
  if (next !== '' && next !== '/' && next !== ':' && next !== '@') return undefined;
  return `${signedPrefix}${text.slice(prefix.length)}`;
}

/**
 * Whether a signature claiming `signed` (its `critical.identity.docker-reference`) may stand for the
 * image the boot asked for, `intended`, under `identity`. References are compared normalised
 * (`busybox` is `docker.io/library/busybox`).
 */
export function identityMatches(identity: SignedIdentity, intended: ImageReference, signed: ImageReference): boolean {
  switch (identity.type) {
    case 'matchExact':
      return exactForm(intended) === exactForm(signed);
    case 'matchRepoDigestOrExact':
      return matchRepoDigestOrExact(intended, signed);
    case 'matchRepository':
      return repositoryOf(intended) === repositoryOf(signed);
    case 'exactReference':
      return exactForm(parseReference(identity.dockerReference)) === exactForm(signed);
    case 'exactRepository':
      return repositoryOf(parseReference(identity.dockerRepository)) === repositoryOf(signed);
    case 'remapIdentity': {
      const remapped = remap(exactForm(intended), identity.prefix, identity.signedPrefix);
      if (remapped === undefined) return matchRepoDigestOrExact(intended, signed);
      return matchRepoDigestOrExact(parseReference(remapped), signed);
    }
  }
}
