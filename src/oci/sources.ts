import { credentialsFromAuthFile, type Credentials } from './auth.ts';
import type { ImageReference } from '../reference/reference.ts';
import { mirrorsFor } from './mirrors.ts';
import { RegistryTransport } from './transport.ts';
import type { PullOptions } from './types.ts';

export type { MirrorConfig, RegistryMirror } from './mirrors.ts';

/** One place an image can come from: a mirror or the registry itself. */
export interface Source {
  label: string;
  repository: string;
  transport: RegistryTransport;
}

export function scopeOf(repository: string): string {
  return `repository:${repository}:pull`;
}

/**
 * The mirrors that may serve the reference (see mirrorsFor), in order, then the registry itself. `--creds`
 * go only to the registry; a mirror gets credentials only from its own entry in the auth file.
 */
export async function buildSources(reference: ImageReference, options: PullOptions): Promise<Source[]> {
  const transportOptions = {
    caFile: options.caFile,
    proxy: options.proxy,
    log: options.log,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    attempts: options.attempts,
    retryDelayMs: options.retryDelayMs,
  };
  const sources: Source[] = [];
  for (const { mirror, host, repository } of mirrorsFor(options.mirrors, reference)) {
    const credentials = options.authfile === undefined ? undefined : await credentialsFromAuthFile(options.authfile, host, repository);
    sources.push({
      label: `mirror ${mirror.location}`,
      repository,
      transport: new RegistryTransport({ ...transportOptions, host, tlsVerify: !(mirror.insecure ?? false), credentials }),
    });
  }
  let credentials: Credentials | undefined = options.credentials;
  if (credentials === undefined && options.authfile !== undefined) credentials = await credentialsFromAuthFile(options.authfile, reference.registry, reference.repository);
  sources.push({
    label: `registry ${reference.registry}`,
    repository: reference.repository,
    transport: new RegistryTransport({ ...transportOptions, host: reference.apiHost, tlsVerify: options.tlsVerify ?? true, credentials }),
  });
  return sources;
}

/** Runs `body` with the sources for a reference, closing them after (cutting off what is in flight on failure). */
export async function withSources<T>(reference: ImageReference, options: PullOptions, body: (sources: Source[]) => Promise<T>): Promise<T> {
  const sources = await buildSources(reference, options);
  let result: T;
  try {
    result = await body(sources);
  } catch (error) {
    // Downloads still running after a failure are cut off rather than waited for.
    await Promise.all(sources.map((source) => source.transport.destroy()));
    throw error;
  }
  await Promise.all(sources.map((source) => source.transport.close()));
  return result;
}
