import { isIPv6 } from 'node:net';

/**
 * The DHCPv6 messages a client needs (RFC 8415): SOLICIT with rapid commit, REQUEST, and the
 * server's ADVERTISE/REPLY read back. busybox-static has no udhcpc6, so ocinit speaks it itself.
 */

export const MessageType = { solicit: 1, advertise: 2, request: 3, reply: 7 } as const;
const Option = { clientId: 1, serverId: 2, iaNa: 3, iaAddr: 5, oro: 6, elapsedTime: 8, statusCode: 13, rapidCommit: 14, dnsServers: 23, domainList: 24 } as const;
const DUID_LL = 3;
const HARDWARE_ETHERNET = 1;

function option(code: number, data: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(code, 0);
  header.writeUInt16BE(data.length, 2);
  return Buffer.concat([header, data]);
}

/** DUID-LL from a MAC address `aa:bb:cc:dd:ee:ff`: stable across boots, which servers like. */
export function duidFromMac(mac: string): Buffer {
  const bytes = Buffer.from(mac.split(':').map((part) => Number.parseInt(part, 16)));
  const header = Buffer.alloc(4);
  header.writeUInt16BE(DUID_LL, 0);
  header.writeUInt16BE(HARDWARE_ETHERNET, 2);
  return Buffer.concat([header, bytes]);
}

function iaNa(iaid: number, inner: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(iaid >>> 0, 0); // T1 and T2 zero: the server chooses
  return option(Option.iaNa, Buffer.concat([head, inner]));
}

function header(type: number, transactionId: number): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(transactionId & 0xffffff, 0);
  head[0] = type;
  return head;
}

function commonOptions(duid: Buffer, elapsedCentiseconds: number): Buffer[] {
  const elapsed = Buffer.alloc(2);
  elapsed.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.round(elapsedCentiseconds))), 0);
  const oro = Buffer.alloc(4);
  oro.writeUInt16BE(Option.dnsServers, 0);
  oro.writeUInt16BE(Option.domainList, 2);
  return [option(Option.clientId, duid), option(Option.elapsedTime, elapsed), option(Option.oro, oro)];
}

export function solicitMessage(transactionId: number, duid: Buffer, iaid: number, elapsedCentiseconds = 0): Buffer {
  return Buffer.concat([header(MessageType.solicit, transactionId), ...commonOptions(duid, elapsedCentiseconds), option(Option.rapidCommit, Buffer.alloc(0)), iaNa(iaid)]);
}

/** REQUEST for what an ADVERTISE offered: its server id and its IA_NA, echoed. */
export function requestMessage(transactionId: number, duid: Buffer, advertise: Dhcp6Message, elapsedCentiseconds = 0): Buffer {
  const iaOptions = advertise.rawIaNa === undefined ? iaNa(advertise.iaid ?? 1) : option(Option.iaNa, advertise.rawIaNa);
  return Buffer.concat([
    header(MessageType.request, transactionId),
    ...commonOptions(duid, elapsedCentiseconds),
    option(Option.serverId, advertise.serverId ?? Buffer.alloc(0)),
    iaOptions,
  ]);
}

export interface Dhcp6Address {
  address: string;
  preferredSeconds: number;
  validSeconds: number;
}

export interface Dhcp6Message {
  type: number;
  transactionId: number;
  serverId?: Buffer | undefined;
  clientId?: Buffer | undefined;
  iaid?: number | undefined;
  /** The IA_NA option's body as received, to echo in a REQUEST. */
  rawIaNa?: Buffer | undefined;
  addresses: Dhcp6Address[];
  nameservers: string[];
  domains: string[];
  rapidCommit: boolean;
  /** A status code other than success, from the message or its IA_NA: `NoAddrsAvail: ...`. */
  status?: string | undefined;
}

function ipv6ToText(bytes: Buffer): string {
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push(bytes.readUInt16BE(index).toString(16));
  // The URL parser writes IPv6 in its canonical short form (RFC 5952).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function* options(body: Buffer): Generator<{ code: number; data: Buffer }> {
  let offset = 0;
  while (offset + 4 <= body.length) {
    const code = body.readUInt16BE(offset);
    const length = body.readUInt16BE(offset + 2);
    if (offset + 4 + length > body.length) return;
    yield { code, data: body.subarray(offset + 4, offset + 4 + length) };
    offset += 4 + length;
  }
}

const STATUS_NAMES = ['Success', 'UnspecFail', 'NoAddrsAvail', 'NoBinding', 'NotOnLink', 'UseMulticast', 'NoPrefixAvail'];

function statusText(data: Buffer): string | undefined {
  if (data.length < 2) return undefined;
  const code = data.readUInt16BE(0);
  if (code === 0) return undefined;
  const message = data.subarray(2).toString('utf8');
  return `${STATUS_NAMES[code] ?? `status ${code}`}${message === '' ? '' : `: ${message}`}`;
}

/** DNS wire-format names (RFC 1035 labels, no compression), as in the domain list option. */
function domainNames(data: Buffer): string[] {
  const names: string[] = [];
  let labels: string[] = [];
  let offset = 0;
  while (offset < data.length) {
    const length = data[offset] ?? 0;
    offset += 1;
    if (length === 0) {
      if (labels.length > 0) names.push(labels.join('.'));
      labels = [];
    } else {
      labels.push(data.subarray(offset, offset + length).toString('latin1'));
      offset += length;
    }
  }
  return names;
}

/** Reads a server message; undefined for anything too short to be one. Unknown options are skipped. */
export function parseDhcp6(packet: Buffer): Dhcp6Message | undefined {
  if (packet.length < 4) return undefined;
  const message: Dhcp6Message = {
    type: packet[0] ?? 0,
    transactionId: packet.readUInt32BE(0) & 0xffffff,
    addresses: [],
    nameservers: [],
    domains: [],
    rapidCommit: false,
  };
  for (const { code, data } of options(packet.subarray(4))) {
    if (code === Option.serverId) message.serverId = Buffer.from(data);
    else if (code === Option.clientId) message.clientId = Buffer.from(data);
    else if (code === Option.rapidCommit) message.rapidCommit = true;
    else if (code === Option.statusCode) message.status ??= statusText(data);
    else if (code === Option.dnsServers) {
      for (let offset = 0; offset + 16 <= data.length; offset += 16) message.nameservers.push(ipv6ToText(data.subarray(offset, offset + 16)));
    } else if (code === Option.domainList) message.domains.push(...domainNames(data));
    else if (code === Option.iaNa && data.length >= 12 && message.rawIaNa === undefined) {
      message.iaid = data.readUInt32BE(0);
      message.rawIaNa = Buffer.from(data);
      for (const inner of options(data.subarray(12))) {
        if (inner.code === Option.statusCode) message.status ??= statusText(inner.data);
        if (inner.code === Option.iaAddr && inner.data.length >= 24) {
          const address = ipv6ToText(inner.data.subarray(0, 16));
          if (isIPv6(address)) message.addresses.push({ address, preferredSeconds: inner.data.readUInt32BE(16), validSeconds: inner.data.readUInt32BE(20) });
        }
      }
    }
  }
  return message;
}
