import { OcinitError } from '../log/errors.ts';
import { isDigest } from '../digest/digest-text.ts';

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** A normalised image reference: `registry/repository[:tag][@digest]`. */
export interface ImageReference {
  /** The registry as named (`docker.io`, `127.0.0.1:5000`, `[::1]:5000`). */
  registry: string;
  /** Where the Distribution API is served (`registry-1.docker.io` for Docker Hub). */
  apiHost: string;
  repository: string;
  /** Absent only when a digest was given without a tag. */
  tag: string | undefined;
  digest: string | undefined;
  /** The full normalised form, e.g. `docker.io/library/alpine:latest`. */
  canonical: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const IPV6_HOST = /^\[[0-9A-Fa-f:.]+\]$/;
const MAX_NAME_LENGTH = 255;

function invalid(text: string, reason: string): OcinitError {
  return new OcinitError(`invalid image reference '${text.slice(0, 300)}': ${reason}`, {
    image: text.slice(0, 300),
    hint: 'use [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. docker.io/library/alpine:3.20',
  });
}

function isRegistryPart(part: string): boolean {
  return part.includes('.') || part.includes(':') || part === 'localhost' || part.startsWith('[');
}

function validateRegistry(text: string, registry: string): void {
  let host = registry;
  let port: string | undefined;
  if (registry.startsWith('[')) {
    const end = registry.indexOf(']');
    if (end < 0) throw invalid(text, `unterminated IPv6 address in registry '${registry}'`);
    host = registry.slice(0, end + 1);
    const rest = registry.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw invalid(text, `unexpected '${rest}' after IPv6 address`);
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) throw invalid(text, `invalid IPv6 address '${host}'`);
  } else {
    const colon = registry.indexOf(':');
    if (colon >= 0) {
      host = registry.slice(0, colon);
      port = registry.slice(colon + 1);
    }
    if (!host.split('.').every((label) => HOST_LABEL.test(label))) throw invalid(text, `invalid registry host '${host}'`);
  }
  if (port !== undefined && !/^[0-9]{1,5}$/.test(port)) throw invalid(text, `invalid port '${port}'`);
  if (port !== undefined && Number(port) > 65535) throw invalid(text, `port ${port} is out of range`);
}

/**
 * Parses `alpine`, `docker://alpine:3`, `host:5000/a/b:tag`, `[::1]:5000/x@sha256:...`.
 * Docker Hub names are normalised (`alpine` → `docker.io/library/alpine:latest`); a digest wins
 * over a tag for what is fetched. Throws an OcinitError giving the reason for anything invalid.
 */
export function parseReference(input: string): ImageReference {
  const text = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  if (text === '') throw invalid(input, 'empty reference');
  if (/[\s\0]/.test(text)) throw invalid(input, 'contains whitespace or control characters');

  let remainder = text;
  let digest: string | undefined;
  const at = remainder.indexOf('@');
  if (at >= 0) {
    digest = remainder.slice(at + 1);
    remainder = remainder.slice(0, at);
    if (!isDigest(digest)) throw invalid(input, `invalid digest '${digest.slice(0, 200)}' (expected sha256:<64 hex> or sha512:<128 hex>)`);
  }

  let tag: string | undefined;
  const lastSlash = remainder.lastIndexOf('/');
  const lastColon = remainder.lastIndexOf(':');
  if (lastColon > lastSlash && !remainder.slice(lastColon).includes(']')) {
    tag = remainder.slice(lastColon + 1);
    remainder = remainder.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalid(input, `invalid tag '${tag}'`);
  }

  const parts = remainder.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && isRegistryPart(first)) {
    registry = first;
    parts.shift();
    validateRegistry(input, registry);
  } else if (first.startsWith('[')) {
    throw invalid(input, 'a registry address needs a repository after it');
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((part) => part === '')) throw invalid(input, 'empty path component');
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      const reason = /[A-Z]/.test(part) ? 'repository names must be lowercase' : 'only lowercase letters, digits and separators (. _ __ -) are allowed';
      throw invalid(input, `invalid repository component '${part}': ${reason}`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) throw invalid(input, `name longer than ${MAX_NAME_LENGTH} characters`);

  if (tag === undefined && digest === undefined) tag = 'latest';
  const canonical = `${registry}/${repository}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  return {
    registry,
    apiHost: registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry,
    repository,
    tag,
    digest,
    canonical,
  };
}

/** What the registry is asked for: the digest when there is one, else the tag. */
export function manifestReference(reference: ImageReference): string {
  return reference.digest ?? reference.tag ?? 'latest';
}

/** The same repository at another tag (e.g. a cosign signature tag), without parsing text again. */
export function taggedReference(reference: ImageReference, tag: string): ImageReference {
  if (!TAG.test(tag)) throw invalid(`${reference.registry}/${reference.repository}:${tag}`, `invalid tag '${tag.slice(0, 200)}'`);
  return { ...reference, tag, digest: undefined, canonical: `${reference.registry}/${reference.repository}:${tag}` };
}

/** The same repository pinned to a digest (e.g. the subject whose referrers are asked for). */
export function pinnedReference(reference: ImageReference, digest: string): ImageReference {
  if (!isDigest(digest)) throw invalid(`${reference.registry}/${reference.repository}@${digest}`, `invalid digest '${digest.slice(0, 200)}'`);
  return { ...reference, tag: undefined, digest, canonical: `${reference.registry}/${reference.repository}@${digest}` };
}
