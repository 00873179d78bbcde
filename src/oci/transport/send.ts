import { request, type Dispatcher } from '../http-client.ts';
import type { RegistryResponse, Send } from './types.ts';

function flatHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) result[name] = Array.isArray(value) ? value.join(', ') : (value ?? '');
  return result;
}

/** The innermost layer: one HTTP exchange through `dispatcher`, nothing retried, followed or mapped. */
export function dispatcherSend(dispatcher: Dispatcher, signal?: AbortSignal): Send {
  return async (outgoing): Promise<RegistryResponse> => {
    const response = await request(outgoing.url, {
      method: outgoing.method,
      ...(outgoing.body === undefined ? {} : { body: outgoing.body }),
      headers: { 'user-agent': 'ocinit', ...outgoing.headers },
      dispatcher,
      signal,
    });
    return { status: response.statusCode, headers: flatHeaders(response.headers), body: response.body, url: outgoing.url.split('?')[0] ?? outgoing.url };
  };
}
