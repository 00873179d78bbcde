// containers-policy.json (containers/image's policy.json, read by podman, skopeo and bootc), parsed
// into typed requirements. Pure: key files are only named here (see load.ts). Anything this parser
// does not support is refused with the field's path, so a policy is never applied in part.
import { OcinitError } from '../log/errors.ts';

/** Where a sigstoreSigned requirement's public key comes from, and the field that named it. */
export type KeySource = { kind: 'path'; path: string; field: string } | { kind: 'data'; pem: Buffer; field: string };

export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

export type Requirement<Key> =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'sigstoreSigned'; keys: Key[]; signedIdentity: SignedIdentity; field: string };

/** A policy: the global default and the `docker` transport's scopes (`""` is the transport's own default). */
export interface Policy<Key> {
  default: Requirement<Key>[];
  docker: Map<string, Requirement<Key>[]>;
}

export type PolicyDocument = Policy<KeySource>;

/**
 * Transports containers/image knows besides `docker`. ocinit pulls only from registries, so their
 * scopes never decide anything here; they are still checked, so a typo is not taken for one.
 */
const OTHER_TRANSPORTS = new Set(['atomic', 'containers-storage', 'dir', 'docker-archive', 'docker-daemon', 'oci', 'oci-archive', 'ostree', 'sif', 'tarball']);

/** Fields of containers/image that ocinit does not implement, with what to do instead. */
const UNSUPPORTED_FIELDS: Record<string, string> = {
  fulcio: 'keyless (Fulcio) signatures are not supported yet: sign with a key (cosign sign --key, ocinit sign --key) and use keyPath',
  pki: 'X.509 PKI signatures are not supported: use keyPath with the signing public key',
  rekorPublicKeyPath: 'Rekor transparency-log checks are not supported: remove the rekor fields (the signature is still checked against the key)',
  rekorPublicKeyPaths: 'Rekor transparency-log checks are not supported: remove the rekor fields',
  rekorPublicKeyData: 'Rekor transparency-log checks are not supported: remove the rekor fields',
  rekorPublicKeyDatas: 'Rekor transparency-log checks are not supported: remove the rekor fields',
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class PolicyError extends OcinitError {
  override readonly code: string = 'OCINIT_POLICY';
  /** The JSON path of the field refused, e.g. `transports.docker["registry.lab/ci"][0].keyPath`. */
  readonly field: string;

  constructor(source: string, field: string, reason: string, hint?: string) {
    super(`policy ${source}: ${field === '' ? '' : `${field}: `}${reason}`, { hint: hint ?? 'the whole policy is refused; see docs/security.md for what ocinit supports' });
    this.field = field;
  }
}

class Parser {
  readonly #source: string;

  constructor(source: string) {
    this.#source = source;
  }

  fail(field: string, reason: string, hint?: string): never {
    throw new PolicyError(this.#source, field, reason, hint);
  }

  onlyKeys(value: Json, field: string, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      const at = field === '' ? key : `${field}.${key}`;
      const unsupported = UNSUPPORTED_FIELDS[key];
      if (unsupported !== undefined) this.fail(at, 'not supported by ocinit', unsupported);
      if (!allowed.includes(key)) this.fail(at, `unknown field (expected ${allowed.join(', ')})`);
    }
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string' || value === '') this.fail(field, 'must be a non-empty string');
    return value;
  }

  requirements(value: unknown, field: string): Requirement<KeySource>[] {
    if (!Array.isArray(value)) this.fail(field, 'must be a list of requirements');
    if (value.length === 0) this.fail(field, 'an empty list of requirements (containers/image refuses it too: write [{"type": "reject"}] or [{"type": "insecureAcceptAnything"}])');
    return value.map((entry, index) => this.requirement(entry, `${field}[${index}]`));
  }

  requirement(value: unknown, field: string): Requirement<KeySource> {
    if (!isObject(value)) this.fail(field, 'a requirement must be an object with a "type"');
    const type = value.type;
    switch (type) {
      case 'insecureAcceptAnything':
      case 'reject':
        this.onlyKeys(value, field, ['type']);
        return { type };
      case 'sigstoreSigned':
        return this.sigstoreSigned(value, field);
      case 'signedBy':
        this.fail(`${field}.type`, 'signedBy (GPG simple signing) is not supported', 'sign with cosign or ocinit sign and use {"type": "sigstoreSigned", "keyPath": ...}');
      // falls through: fail never returns
      default:
        this.fail(`${field}.type`, `unknown requirement type ${JSON.stringify(type)} (expected insecureAcceptAnything, reject or sigstoreSigned)`);
    }
  }

  sigstoreSigned(value: Json, field: string): Requirement<KeySource> {
    this.onlyKeys(value, field, ['type', 'keyPath', 'keyPaths', 'keyData', 'keyDatas', 'signedIdentity']);
    const given = ['keyPath', 'keyPaths', 'keyData', 'keyDatas'].filter((key) => value[key] !== undefined);
    if (given.length !== 1) {
      this.fail(field, given.length === 0 ? 'sigstoreSigned needs one of keyPath, keyPaths, keyData, keyDatas' : `sigstoreSigned takes only one of ${given.join(', ')}`);
    }
    const keys: KeySource[] = [];
    if (value.keyPath !== undefined) keys.push({ kind: 'path', path: this.string(value.keyPath, `${field}.keyPath`), field: `${field}.keyPath` });
    if (value.keyData !== undefined) keys.push(this.keyData(value.keyData, `${field}.keyData`));
    for (const list of ['keyPaths', 'keyDatas'] as const) {
      const entries = value[list];
      if (entries === undefined) continue;
      if (!Array.isArray(entries) || entries.length === 0) this.fail(`${field}.${list}`, 'must be a non-empty list');
      entries.forEach((entry, index) => {
        const at = `${field}.${list}[${index}]`;
        keys.push(list === 'keyPaths' ? { kind: 'path', path: this.string(entry, at), field: at } : this.keyData(entry, at));
      });
    }
    const signedIdentity: SignedIdentity = value.signedIdentity === undefined ? { type: 'matchRepoDigestOrExact' } : this.signedIdentity(value.signedIdentity, `${field}.signedIdentity`);
    return { type: 'sigstoreSigned', keys, signedIdentity, field };
  }

  keyData(value: unknown, field: string): KeySource {
    const text = this.string(value, field);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) this.fail(field, 'must be the key file (PEM) encoded in base64');
    return { kind: 'data', pem: Buffer.from(text, 'base64'), field };
  }

  /** A fully qualified reference: with a tag or digest (`tagged`), or a repository name alone (`name`). */
  reference(value: unknown, field: string, form: 'tagged' | 'name'): string {
    const text = this.string(value, field);
    const problem = scopeProblem(text);
    if (problem !== undefined || text.startsWith('*.')) this.fail(field, problem ?? 'a reference, not a wildcard');
    const tagged = text.includes('@') || text.lastIndexOf(':') > text.lastIndexOf('/');
    if (form === 'tagged' && !tagged) this.fail(field, `'${text}' needs a tag or a digest`);
    if (form === 'name' && tagged) this.fail(field, `'${text}' must be a repository, without a tag or digest`);
    return text;
  }

  /** A remapIdentity prefix: `HOST[:PORT]`, `HOST/NAMESPACE` or `HOST/REPO`. */
  prefix(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (text.includes('/')) return this.reference(text, field, 'name');
    const problem = scopeProblem(text);
    if (problem !== undefined || text.startsWith('*.')) this.fail(field, problem ?? 'a prefix, not a wildcard');
    return text;
  }

  signedIdentity(value: unknown, field: string): SignedIdentity {
    if (!isObject(value)) this.fail(field, 'must be an object with a "type"');
    const type = value.type;
    switch (type) {
      case 'matchExact':
      case 'matchRepoDigestOrExact':
      case 'matchRepository':
        this.onlyKeys(value, field, ['type']);
        return { type };
      case 'exactReference': {
        this.onlyKeys(value, field, ['type', 'dockerReference']);
        const dockerReference = this.reference(value.dockerReference, `${field}.dockerReference`, 'tagged');
        return { type, dockerReference };
      }
      case 'exactRepository': {
        this.onlyKeys(value, field, ['type', 'dockerRepository']);
        return { type, dockerRepository: this.reference(value.dockerRepository, `${field}.dockerRepository`, 'name') };
      }
      case 'remapIdentity':
        this.onlyKeys(value, field, ['type', 'prefix', 'signedPrefix']);
        return { type, prefix: this.prefix(value.prefix, `${field}.prefix`), signedPrefix: this.prefix(value.signedPrefix, `${field}.signedPrefix`) };
      default:
        this.fail(`${field}.type`, `unknown signedIdentity type ${JSON.stringify(type)}`);
    }
  }
}

const SCOPE_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * Why a `docker` scope is malformed, or undefined. Scopes are written fully qualified as in
 * containers/image: `""`, `*.example.com`, `HOST[:PORT]`, `HOST/NAMESPACE`, `HOST/REPO`, `HOST/REPO:TAG`,
 * `HOST/REPO@DIGEST`; Docker Hub repositories with their `library/`.
 */
export function scopeProblem(scope: string): string | undefined {
  if (scope === '') return undefined;
  if (scope.startsWith('*.')) return HOST.test(scope.slice(2)) && !scope.includes(':') ? undefined : 'a wildcard scope is *.DOMAIN, without a port or a path';
  let rest = scope;
  const at = rest.indexOf('@');
  if (at >= 0) {
    if (!/^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/.test(rest.slice(at + 1))) return `invalid digest in '${scope}'`;
    rest = rest.slice(0, at);
  } else {
    const slash = rest.lastIndexOf('/');
    const colon = rest.lastIndexOf(':');
    if (slash >= 0 && colon > slash) {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(rest.slice(colon + 1))) return `invalid tag in '${scope}'`;
      rest = rest.slice(0, colon);
    }
  }
  const [host = '', ...path] = rest.split('/');
  if (!HOST.test(host)) return `'${host}' is not a registry host`;
  if (!host.includes('.') && !host.includes(':') && host !== 'localhost' && !host.startsWith('[')) {
    return `'${host}' is not a registry host: scopes are fully qualified (docker.io/library/${host}, not ${host})`;
  }
  if (path.some((component) => !SCOPE_COMPONENT.test(component))) return `invalid repository path in '${scope}'`;
  if (host === 'docker.io' && path.length === 1) return `Docker Hub repositories are written docker.io/library/${path[0] ?? ''}`;
  return undefined;
}

/** Parses a policy.json document; `source` names it in messages (a file name). Throws PolicyError. */
export function parsePolicy(text: string, source: string): PolicyDocument {
  const parser: Parser = new Parser(source);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    parser.fail('', `not JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) parser.fail('', 'must be a JSON object with "default"');
  parser.onlyKeys(value, '', ['default', 'transports']);
  if (value.default === undefined) parser.fail('default', 'missing (every policy needs a default)');
  const policy: PolicyDocument = { default: parser.requirements(value.default, 'default'), docker: new Map() };
  const transports = value.transports;
  if (transports === undefined) return policy;
  if (!isObject(transports)) parser.fail('transports', 'must be an object of transport names');
  for (const [transport, scopes] of Object.entries(transports)) {
    const field = `transports.${transport}`;
    if (transport !== 'docker' && !OTHER_TRANSPORTS.has(transport)) parser.fail(field, 'unknown transport');
    if (!isObject(scopes)) parser.fail(field, 'must be an object of scopes');
    for (const [scope, requirements] of Object.entries(scopes)) {
      const at = `${field}[${JSON.stringify(scope)}]`;
      const parsed = parser.requirements(requirements, at);
      if (transport !== 'docker') continue;
      const problem = scopeProblem(scope);
      if (problem !== undefined) parser.fail(at, problem);
      policy.docker.set(scope, parsed);
    }
  }
  return policy;
}
