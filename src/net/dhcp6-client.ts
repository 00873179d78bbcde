import { createSocket, type Socket, type SocketOptions } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { duidFromMac, MessageType, parseDhcp6, requestMessage, solicitMessage, type Dhcp6Message } from './dhcp6.ts';

const CLIENT_PORT = 546;
const SERVER_PORT = 547;
const ALL_SERVERS = 'ff02::1:2';
const RETRANSMIT_MS = 1_000;

export type Dhcp6Outcome =
  | { ok: true; address: string; validSeconds: number; nameservers: string[]; domains: string[] }
  | { ok: false; detail: string };

/**
 * dgram's lookup for the literal addresses this client binds and sends to: the default one checks
 * them with net.isIP, whose IPv6 expression takes ~0.1 s to compile under TCG on every boot.
 */
const literalAddress: NonNullable<SocketOptions['lookup']> = (address, _family, callback) => {
  process.nextTick(callback, null, address, 6);
};

/**
 * One stateful DHCPv6 exchange on interface `name` (SOLICIT with rapid commit, else ADVERTISE →
 * REQUEST → REPLY), within `timeoutMs`. In the `background`, its socket and timers do not keep
 * the process alive.
 * Sends fail while the link-local address is still tentative (DAD, ~1 s after link up): those
 * attempts are simply retried.
 */
export function requestDhcp6(name: string, mac: string, options: { timeoutMs: number; background?: boolean }): Promise<Dhcp6Outcome> {
  const duid = duidFromMac(mac);
  const iaid = Number.parseInt(mac.replaceAll(':', '').slice(-8), 16) >>> 0;
  const started = Date.now();
  let transactionId = randomInt(0, 0xffffff);
  let pending: Buffer = solicitMessage(transactionId, duid, iaid);
  let lastError = 'no DHCPv6 server answered';
  return new Promise((resolve) => {
    const socket: Socket = createSocket({ type: 'udp6', reuseAddr: true, lookup: literalAddress });
    let done = false;
    const finish = (outcome: Dhcp6Outcome): void => {
      if (done) return;
      done = true;
      clearInterval(retransmit);
      clearTimeout(deadline);
      socket.close();
      resolve(outcome);
    };
    const send = (): void => {
      socket.send(pending, SERVER_PORT, `${ALL_SERVERS}%${name}`, (error) => {
        if (error !== null && error !== undefined) lastError = `cannot send yet: ${error.message}`;
      });
    };
    const retransmit = setInterval(send, RETRANSMIT_MS);
    const deadline = setTimeout(() => finish({ ok: false, detail: `${lastError} within ${options.timeoutMs} ms` }), options.timeoutMs);
    if (options.background === true) {
      retransmit.unref();
      deadline.unref();
    }
    socket.on('error', (error) => finish({ ok: false, detail: `DHCPv6 socket: ${error.message}` }));
    socket.on('message', (packet) => {
      const message = parseDhcp6(packet);
      if (message === undefined || message.transactionId !== transactionId || message.clientId?.equals(duid) !== true) return;
      if (message.status !== undefined) lastError = `server said ${message.status}`;
      const handled = handle(message);
      if (handled !== undefined) finish(handled);
    });
    const handle = (message: Dhcp6Message): Dhcp6Outcome | undefined => {
      const address = message.addresses.find((candidate) => candidate.validSeconds > 0);
      if (message.type === MessageType.reply && address !== undefined) {
        return { ok: true, address: address.address, validSeconds: address.validSeconds, nameservers: message.nameservers, domains: message.domains };
      }
      if (message.type === MessageType.advertise && address !== undefined) {
        transactionId = randomInt(0, 0xffffff);
        pending = requestMessage(transactionId, duid, message, (Date.now() - started) / 10);
        send();
      }
      return undefined;
    };
    socket.bind({ port: CLIENT_PORT, address: '::', exclusive: false }, () => {
      if (options.background === true) socket.unref();
      send();
    });
  });
}
