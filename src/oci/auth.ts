import { readFile } from 'node:fs/promises';
import { OcinitError } from '../log/errors.ts';
import { Secret } from '../log/secret.ts';
import { DOCKER_HUB } from '../reference/reference.ts';

export interface Credentials {
  username: string;
  password: Secret;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header: `Bearer realm="https://auth/token",service="reg",scope="a,b"`.
 * Quoted values may contain commas and escaped quotes. Returns one challenge per scheme found.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let index = 0;
  let current: Challenge | undefined;
  const skipSpaces = (): void => {
    while (index < header.length && /[\s,]/.test(header[index] ?? '')) index++;
  };
  while (index < header.length) {
    skipSpaces();
    const tokenMatch = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(header.slice(index));
    if (tokenMatch === null) break;
    const token = tokenMatch[0];
    index += token.length;
    while (header[index] === ' ') index++;
    if (header[index] === '=') {
      index++;
      while (header[index] === ' ') index++;
      let value = '';
      if (header[index] === '"') {
        index++;
        while (index < header.length && header[index] !== '"') {
          if (header[index] === '\\') index++;
          value += header[index] ?? '';
          index++;
        }
        index++;
      } else {
        const valueMatch = /^[^,\s]*/.exec(header.slice(index));
        value = valueMatch?.[0] ?? '';
        index += value.length;
      }
      if (current !== undefined) current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** `user:password` as given to `--creds`. */
export function parseCredentials(text: string): Credentials {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new OcinitError('invalid credentials: expected USERNAME:PASSWORD', { hint: 'pass --creds USER:PASSWORD' });
  return { username: text.slice(0, colon), password: new Secret(text.slice(colon + 1)) };
}

/**
 * Looks up credentials for `registry/repository` in a podman/docker `auth.json`
 * (`{"auths": {"host[/path]": {"auth": base64("user:pass")}}}`); the most specific key wins.
 */
export async function credentialsFromAuthFile(path: string, registry: string, repository: string): Promise<Credentials | undefined> {
  let document: unknown;
  try {
    document = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new OcinitError(`cannot read auth file ${path}: ${(error as Error).message}`, { hint: 'give a podman/docker auth.json with --authfile' });
  }
  const auths = typeof document === 'object' && document !== null ? (document as { auths?: unknown }).auths : undefined;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const entries = auths as Record<string, unknown>;
  const keys: string[] = [];
  const components = repository.split('/');
  for (let count = components.length; count > 0; count--) keys.push(`${registry}/${components.slice(0, count).join('/')}`);
  keys.push(registry);
  if (registry === DOCKER_HUB) keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  keys.push(`https://${registry}`, `http://${registry}`);
  for (const key of keys) {
    const entry = entries[key];
    if (typeof entry !== 'object' || entry === null) continue;
    const auth = (entry as { auth?: unknown }).auth;
    if (typeof auth !== 'string' || auth === '') continue;
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new OcinitError(`invalid entry for ${key} in auth file ${path}: "auth" is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: new Secret(decoded.slice(colon + 1)) };
  }
  return undefined;
}

export function basicAuthorization(credentials: Credentials): Secret {
  return new Secret(`Basic ${Buffer.from(`${credentials.username}:${credentials.password.reveal()}`).toString('base64')}`);
}
