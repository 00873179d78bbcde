import { OcinitError, type ErrorContext } from '../../log/errors.ts';
import type { RegistryPeer, RegistryResponse, Send } from './types.ts';

/** One error of a registry's error body (distribution spec): `MANIFEST_UNKNOWN`, `DENIED`, `TOOMANYREQUESTS`... */
export interface RegistryDiagnostic {
  code: string;
  message: string;
}

/**
 * A registry (or a mirror) answered with an error, or could not be reached: what a caller decides on
 * (another source, a cached copy) is in the fields, never in the message.
 */
export class RegistryError extends OcinitError {
  override readonly code: string = 'OCINIT_REGISTRY';
  /** The HTTP status; undefined when no answer came (network, timeout). */
  readonly status: number | undefined;
  readonly errors: readonly RegistryDiagnostic[];

  constructor(message: string, context: ErrorContext & { status?: number; errors?: readonly RegistryDiagnostic[] } = {}) {
    super(message, context);
    this.status = context.status;
    this.errors = context.errors ?? [];
  }

  /** The registry's own error codes (not this class's `code`), e.g. `['MANIFEST_UNKNOWN']`. */
  get codes(): string[] {
    return this.errors.map((error) => error.code);
  }
}

/** The registry could not be reached or kept failing (network, timeout, 5xx, 429): a cached copy may do. */
export class RegistryUnreachableError extends RegistryError {
  override readonly code: string = 'OCINIT_REGISTRY_UNREACHABLE';
}

/** The registry's own errors from an error body (`{"errors":[{"code":"MANIFEST_UNKNOWN",...}]}`). */
export function parseRegistryErrors(text: string): RegistryDiagnostic[] {
  try {
    const parsed = JSON.parse(text.slice(0, 4096)) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors.flatMap((error: { code?: unknown; message?: unknown }) =>
      typeof error.code === 'string' ? [{ code: error.code, message: typeof error.message === 'string' ? error.message : '' }] : [],
    );
  } catch {
    return [];
  }
}

/** Reads (and so consumes) an error body; an unreadable one has no diagnostics. */
export async function registryErrors(body: RegistryResponse['body']): Promise<RegistryDiagnostic[]> {
  try {
    return parseRegistryErrors(await body.text());
  } catch {
    return [];
  }
}

/** ` (MANIFEST_UNKNOWN: manifest unknown; ...)` for a message. */
export function describeDiagnostics(errors: readonly RegistryDiagnostic[]): string {
  return errors.length === 0 ? '' : ` (${errors.map((error) => [error.code, error.message].filter(Boolean).join(': ')).join('; ')})`;
}

/** The RegistryError for a response whose status the caller did not expect; the body is consumed. */
export async function statusError(
  response: RegistryResponse,
  host: string,
  what: string,
  context: { image?: string; blob?: string; hasCredentials: boolean },
): Promise<RegistryError> {
  const errors = await registryErrors(response.body);
  const detail = describeDiagnostics(errors);
  const { status, url } = response;
  const { hasCredentials, ...where } = context;
  const fields = { ...where, url, status, errors };
  if (status === 401) {
    return new RegistryError(`registry ${host} refused the credentials while ${what} (HTTP 401)${detail}`, {
      ...fields,
      hint: hasCredentials ? 'check the username and password' : 'this registry needs credentials: pass --creds USER:PASSWORD or --authfile',
    });
  }
  if (status === 403) return new RegistryError(`registry ${host} denied access while ${what} (HTTP 403)${detail}`, { ...fields, hint: 'check these credentials may pull this repository' });
  if (status === 404) return new RegistryError(`registry ${host} has no such thing while ${what} (HTTP 404)${detail}`, { ...fields, hint: 'check the image name, tag or digest' });
  const ErrorClass = status >= 500 || status === 429 ? RegistryUnreachableError : RegistryError;
  return new ErrorClass(`registry ${host} answered HTTP ${status} while ${what}${detail}`, fields);
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|VERIFY|ISSUER|ALTNAME/;

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A failure below (socket, TLS, timeout) as the RegistryUnreachableError an operator can act on. */
export function networkError(error: unknown, host: string, what: string, timeoutMs: number): RegistryUnreachableError {
  const code = errorCode(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new RegistryUnreachableError(`registry ${host} did not answer within ${timeoutMs / 1000} s while ${what}`, { cause: error, hint: 'check the network and the registry, or raise the timeout' });
  }
  const tlsHint = code !== undefined && TLS_CODE.test(code) ? 'the certificate was not trusted: give --ca-file, or --tls-verify=false for a test registry' : undefined;
  return new RegistryUnreachableError(`cannot reach registry ${host} while ${what}: ${(error as Error).message}${code === undefined ? '' : ` (${code})`}`, {
    cause: error,
    hint: tlsHint ?? 'check the network, the registry address and, for a plain-HTTP registry, --tls-verify=false',
  });
}

/**
 * The layer that turns whatever the layers below throw that is not an OcinitError (undici's errors,
 * an abort) into one: cancelled when the caller cancelled, else unreachable with the reason.
 */
export function withErrorMapping(inner: Send, peer: RegistryPeer & { timeoutMs: number; cancelled: () => boolean }): Send {
  return async (request) => {
    try {
      return await inner(request);
    } catch (error) {
      if (error instanceof OcinitError) throw error;
      if (peer.cancelled()) throw new OcinitError(`${request.what} was cancelled`, { cause: error });
      throw networkError(error, peer.host, request.what, peer.timeoutMs);
    }
  };
}
