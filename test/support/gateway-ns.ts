// A network namespace standing for a farm gateway: a veth pair to the host, the host side
// 10.231.N.1/30 and the gateway 10.231.N.2/30. Names are unique per process so parallel runs never meet.
import { execFileSync } from 'node:child_process';

export interface GatewayNamespace {
  name: string;
  /** The host's address on the link (where an upstream on the host listens). */
  hostAddress: string;
  /** The gateway's address. */
  gatewayAddress: string;
  remove(): void;
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function createGatewayNamespace(tag: string): GatewayNamespace {
  const id = process.pid % 100_000;
  const name = `ocinit-${tag}-${id}`;
  const hostIf = `ocg${id}h`;
  const subnet = `10.231.${id % 250}`;
  ip('netns', 'add', name);
  try {
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'gw0', 'netns', name);
    ip('addr', 'add', `${subnet}.1/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', name, 'addr', 'add', `${subnet}.2/30`, 'dev', 'gw0');
    ip('-n', name, 'link', 'set', 'gw0', 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (error) {
    ip('netns', 'del', name);
    throw error;
  }
  return {
    name,
    hostAddress: `${subnet}.1`,
    gatewayAddress: `${subnet}.2`,
    remove() {
      // Deleting the namespace deletes its end of the veth pair, and with it the host's end.
      ip('netns', 'del', name);
    },
  };
}
