import { OcinitError } from '../../log/errors.ts';
import { isConnectionError, sleep } from '../http-client.ts';
import type { RegistryPeer, Send } from './types.ts';

const MAX_RETRY_AFTER_MS = 60_000;
/** The longest pause between two attempts without a Retry-After. */
const MAX_BACKOFF_MS = 10_000;

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The first pause; it doubles with each attempt. */
  retryDelayMs: number;
  /** Jitter source, 0 ≤ x < 1. */
  random: () => number;
  signal?: AbortSignal | undefined;
  cancelled: () => boolean;
  /** How to wait (tests record the pauses instead of taking them). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The pause before attempt `number + 1`: exponential from `firstMs`, capped, drawn uniformly from
 * its upper half, so that clients that failed together (a gateway restarting under a fleet) come
 * back spread out rather than in waves. A Retry-After is honoured as a floor, with up to a quarter
 * more on top for the same reason.
 */
export function backoffMs(number: number, firstMs: number, retryAfter: number | undefined, random: () => number): number {
  if (retryAfter !== undefined) return Math.round(retryAfter * (1 + random() / 4));
  const ceiling = Math.min(firstMs * 2 ** (number - 1), MAX_BACKOFF_MS);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Retry-After` in seconds or as an HTTP date, capped; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * Retries connection errors, 5xx and 429 with jittered exponential backoff (Retry-After honoured).
 * The last attempt's answer is returned whatever its status; the caller judges it.
 */
export function withRetries(inner: Send, peer: RegistryPeer, options: RetryOptions): Send {
  const pause = options.sleep ?? sleep;
  return async (request) => {
    for (let number = 1; ; number++) {
      const last = number >= options.attempts;
      const next = `attempt ${number + 1}/${options.attempts}`;
      let response;
      try {
        response = await inner(request);
      } catch (error) {
        const retryable = !(error instanceof OcinitError) && !options.cancelled() && request.retryConnectionErrors !== false && isConnectionError(error);
        if (last || !retryable) throw error;
        const wait = backoffMs(number, options.retryDelayMs, undefined, options.random);
        peer.log?.warn(`registry ${peer.host}: ${(error as Error).message} while ${request.what}; retrying in ${wait} ms (${next})`);
        await pause(wait, options.signal);
        continue;
      }
      if (last || (response.status !== 429 && response.status < 500)) return response;
      const wait = backoffMs(number, options.retryDelayMs, retryAfterMs(response.headers['retry-after']), options.random);
      await response.body.dump();
      peer.log?.warn(`registry ${peer.host}: HTTP ${response.status} while ${request.what}; retrying in ${wait} ms (${next})`);
      await pause(wait, options.signal);
    }
  };
}
