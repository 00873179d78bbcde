import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';

/**
 * A minimal SNTP (RFC 4330) client: one request, one answer, the clock offset.
 * busybox-static in Debian has no ntpd applet, and setting the clock once at boot needs no daemon.
 */

/** Seconds between the NTP era (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;
const PACKET_SIZE = 48;
const MODE_CLIENT = 3;
const MODE_SERVER = 4;
const VERSION = 4;

export function toNtpTimestamp(unixMs: number): Buffer {
  const buffer = Buffer.alloc(8);
  const seconds = Math.floor(unixMs / 1000);
  buffer.writeUInt32BE((seconds + NTP_UNIX_OFFSET) >>> 0, 0);
  buffer.writeUInt32BE(Math.floor(((unixMs - seconds * 1000) / 1000) * 2 ** 32) >>> 0, 4);
  return buffer;
}

export function fromNtpTimestamp(buffer: Buffer, offset: number): number {
  const seconds = buffer.readUInt32BE(offset);
  const fraction = buffer.readUInt32BE(offset + 4);
  return (seconds - NTP_UNIX_OFFSET) * 1000 + (fraction / 2 ** 32) * 1000;
}

/** A client request whose transmit timestamp is `unixMs` (the server echoes it as the originate timestamp). */
export function sntpRequest(unixMs: number): Buffer {
  const packet = Buffer.alloc(PACKET_SIZE);
  packet[0] = (VERSION << 3) | MODE_CLIENT;
  toNtpTimestamp(unixMs).copy(packet, 40);
  return packet;
}

export type SntpReply = { ok: true; offsetMs: number; roundTripMs: number; stratum: number } | { ok: false; reason: string };

/**
 * Checks a server reply to the request sent at `sentMs` (local clock) and received at `receivedMs`,
 * and computes the offset to add to the local clock: ((T2 - T1) + (T3 - T4)) / 2.
 */
export function readSntpReply(packet: Buffer, request: Buffer, sentMs: number, receivedMs: number): SntpReply {
  if (packet.length < PACKET_SIZE) return { ok: false, reason: `short reply (${packet.length} bytes)` };
  const first = packet[0] ?? 0;
  const leap = first >> 6;
  const mode = first & 7;
  const stratum = packet[1] ?? 0;
  if (mode !== MODE_SERVER) return { ok: false, reason: `not a server reply (mode ${mode})` };
  if (!packet.subarray(24, 32).equals(request.subarray(40, 48))) return { ok: false, reason: 'reply does not answer our request' };
  if (stratum === 0) return { ok: false, reason: `kiss-o'-death from the server (${packet.subarray(12, 16).toString('latin1')})` };
  if (leap === 3 || stratum > 15) return { ok: false, reason: 'server is not synchronised' };
  const serverReceived = fromNtpTimestamp(packet, 32);
  const serverSent = fromNtpTimestamp(packet, 40);
  return {
    ok: true,
    offsetMs: (serverReceived - sentMs + (serverSent - receivedMs)) / 2,
    roundTripMs: receivedMs - sentMs - (serverSent - serverReceived),
    stratum,
  };
}

/** The address of `host`, or why not, within `timeoutMs` (the resolver's own retries can take far longer). */
async function resolveHost(host: string, timeoutMs: number): Promise<{ address: string; family: 4 | 6 } | { reason: string }> {
  if (isIP(host) !== 0) return { address: host, family: isIP(host) === 6 ? 6 : 4 };
  // Imported here: a boot that syncs with an address, or not at all, never loads the resolver.
  const { lookup } = await import('node:dns/promises');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ reason: string }>((resolve) => {
    timer = setTimeout(() => resolve({ reason: `cannot resolve ${host} within ${timeoutMs} ms` }), timeoutMs);
  });
  const resolution = lookup(host).then(
    (found) => ({ address: found.address, family: found.family === 6 ? (6 as const) : (4 as const) }),
    (error: unknown) => ({ reason: `cannot resolve ${host}: ${error instanceof Error ? error.message : String(error)}` }),
  );
  try {
    return await Promise.race([resolution, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One SNTP exchange with `host` (name or address) on UDP `port`; name resolution and exchange together take at most `timeoutMs`. */
export async function querySntp(host: string, options: { timeoutMs: number; port?: number }): Promise<SntpReply & { address?: string }> {
  const started = Date.now();
  const resolved = await resolveHost(host, options.timeoutMs);
  if ('reason' in resolved) return { ok: false, reason: resolved.reason };
  const { address, family } = resolved;
  const remainingMs = Math.max(1, options.timeoutMs - (Date.now() - started));
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    const sentMs = Date.now();
    const request = sntpRequest(sentMs);
    const finish = (reply: SntpReply): void => {
      clearTimeout(timer);
      socket.close();
      resolve({ ...reply, address });
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `no answer from ${address} within ${options.timeoutMs} ms` }), remainingMs);
    socket.on('error', (error) => finish({ ok: false, reason: `${address}: ${error.message}` }));
    socket.on('message', (packet) => {
      const reply = readSntpReply(packet, request, sentMs, Date.now());
      if (reply.ok || reply.reason !== 'reply does not answer our request') finish(reply);
    });
    socket.send(request, options.port ?? 123, address);
  });
}
