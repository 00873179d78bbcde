import { Readable } from 'node:stream';
import type { RegistryResponse, ResponseBody, Send, TransportRequest } from '../../../../src/oci/transport/types.ts';

/** A body as undici's: iterable, and dump()/text() that consume it. */
export function bodyOf(text = ''): ResponseBody {
  const stream = Readable.from([Buffer.from(text)]);
  return Object.assign(stream, {
    dump: async (): Promise<void> => void stream.resume(),
    text: async (): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
  });
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string } | Error;

/**
 * An inner layer that records every request it sees and answers from `answer` (a function of the
 * request), so that one layer is tested alone, without a network.
 */
export function fakeSend(answer: (request: TransportRequest, index: number) => Answer): { send: Send; seen: TransportRequest[] } {
  const seen: TransportRequest[] = [];
  const send: Send = async (request): Promise<RegistryResponse> => {
    seen.push(request);
    const result = answer(request, seen.length - 1);
    if (result instanceof Error) throw result;
    return { status: result.status, headers: result.headers ?? {}, body: bodyOf(result.body), url: request.url.split('?')[0] ?? request.url };
  };
  return { send, seen };
}

/** An error as undici and node raise them: a message and a code. */
export function codedError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

export const GET = (url: string, extra: Partial<TransportRequest> = {}): TransportRequest => ({ method: 'GET', url, headers: {}, what: 'testing', ...extra });
