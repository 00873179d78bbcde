import { describe, expect, it } from 'vitest';
import { duidFromMac, MessageType, parseDhcp6, requestMessage, solicitMessage } from '../../../src/net/dhcp6.ts';

const duid = duidFromMac('52:54:00:12:34:56');

function option(code: number, data: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(code, 0);
  head.writeUInt16BE(data.length, 2);
  return Buffer.concat([head, data]);
}

/** A server message as dnsmasq sends it: client id, server id, IA_NA with one address, DNS, domain list. */
function serverMessage(type: number, transactionId: number, extra: Buffer[] = []): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(transactionId, 0);
  head[0] = type;
  const iaAddr = Buffer.concat([Buffer.from('fd770000000000000000000000000142', 'hex'), Buffer.from([0, 0, 0x0e, 0x10, 0, 0, 0x0e, 0x10])]);
  const iaNa = Buffer.concat([Buffer.from([0, 0, 0, 7, 0, 0, 7, 8, 0, 0, 0x0c, 0x4e]), option(5, iaAddr)]);
  return Buffer.concat([
    head,
    option(1, duid),
    option(2, Buffer.from('000100013295130b', 'hex')),
    option(3, iaNa),
    option(23, Buffer.from('fd770000000000000000000000000001fd770000000000000000000000000053', 'hex')),
    option(24, Buffer.from([3, ...Buffer.from('lab'), 0, 4, ...Buffer.from('farm'), 7, ...Buffer.from('example'), 0])),
    ...extra,
  ]);
}

describe('dhcp6 messages', () => {
  it('builds a SOLICIT with client id, elapsed time, requested options, rapid commit and an IA_NA', () => {
    const packet = solicitMessage(0xabcdef, duid, 7);
    expect(packet.subarray(0, 4)).toEqual(Buffer.from([1, 0xab, 0xcd, 0xef]));
    expect(duid).toEqual(Buffer.from('0003000152540012' + '3456', 'hex'));
    const parsed = parseDhcp6(packet);
    expect(parsed).toMatchObject({ type: MessageType.solicit, transactionId: 0xabcdef, rapidCommit: true, iaid: 7 });
    expect(parsed?.clientId).toEqual(duid);
  });

  it('reads an address, its lifetimes, DNS servers and search domains from a REPLY', () => {
    expect(parseDhcp6(serverMessage(MessageType.reply, 0x123456))).toMatchObject({
      type: MessageType.reply,
      transactionId: 0x123456,
      addresses: [{ address: 'fd77::142', preferredSeconds: 3600, validSeconds: 3600 }],
      nameservers: ['fd77::1', 'fd77::53'],
      domains: ['lab', 'farm.example'],
    });
    expect(parseDhcp6(serverMessage(MessageType.reply, 0x123456))?.status).toBeUndefined();
  });

  it('answers an ADVERTISE with a REQUEST naming its server and echoing its IA_NA', () => {
    const advertise = parseDhcp6(serverMessage(MessageType.advertise, 1));
    if (advertise === undefined) throw new Error('advertise did not parse');
    const request = parseDhcp6(requestMessage(0x42, duid, advertise));
    expect(request).toMatchObject({ type: MessageType.request, transactionId: 0x42, iaid: 7, addresses: [{ address: 'fd77::142' }] });
    expect(request?.serverId).toEqual(Buffer.from('000100013295130b', 'hex'));
  });

  it('reports a refusal and survives truncated input', () => {
    const status = option(13, Buffer.concat([Buffer.from([0, 2]), Buffer.from('no addresses left')]));
    expect(parseDhcp6(serverMessage(MessageType.reply, 9, [status]))?.status).toBe('NoAddrsAvail: no addresses left');
    expect(parseDhcp6(Buffer.from([7, 0, 0]))).toBeUndefined();
    expect(parseDhcp6(serverMessage(MessageType.reply, 9).subarray(0, 30))).toMatchObject({ type: MessageType.reply, addresses: [] });
  });
});
