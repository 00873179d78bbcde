// The parts of undici the registry client uses, loaded on their own. undici's index also evaluates
// fetch, WebSocket, EventSource, the mock agents and the cache stores when it loads: the CLI bundle
// was 1.1 MB instead of 0.75 MB, and started 15 ms later with 4.5 MB more RSS, for code a pull
// never runs.
import type { Dispatcher } from 'undici';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import ProxyAgentClass from 'undici/lib/dispatcher/proxy-agent.js';
import dispatcherApi from 'undici/lib/api/index.js';

// What undici's index does: request(), connect() (which ProxyAgent's tunnels use)... become
// methods of every dispatcher.
Object.assign(DispatcherClass.prototype, dispatcherApi);

export const Agent = AgentClass;
export const ProxyAgent = ProxyAgentClass;
export type { Dispatcher };

/** `undici.request` through an explicit dispatcher (undici's index adds a global one). */
export function request(url: string, options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher }): Promise<Dispatcher.ResponseData> {
  const { origin, pathname, search } = new URL(url);
  const { dispatcher, ...rest } = options;
  return dispatcher.request({ ...rest, origin, path: `${pathname}${search}` });
}
