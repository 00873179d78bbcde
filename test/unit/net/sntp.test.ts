import { describe, expect, it } from 'vitest';
import { fromNtpTimestamp, readSntpReply, sntpRequest, toNtpTimestamp } from '../../../src/net/sntp.ts';

/** A server reply to `request`, as a real server builds it: originate = our transmit timestamp. */
function reply(request: Buffer, serverReceivedMs: number, serverSentMs: number, overrides: { first?: number; stratum?: number } = {}): Buffer {
  const packet = Buffer.alloc(48);
  packet[0] = overrides.first ?? ((4 << 3) | 4);
  packet[1] = overrides.stratum ?? 2;
  request.copy(packet, 24, 40, 48);
  toNtpTimestamp(serverReceivedMs).copy(packet, 32);
  toNtpTimestamp(serverSentMs).copy(packet, 40);
  return packet;
}

describe('sntp', () => {
  it('round-trips timestamps through the NTP era at millisecond precision', () => {
    const now = Date.UTC(2026, 10, 22, 2, 0, 0, 250);
    expect(fromNtpTimestamp(toNtpTimestamp(now), 0)).toBeCloseTo(now, 3);
    expect(toNtpTimestamp(0).readUInt32BE(0)).toBe(2_208_988_800);
  });

  it('builds a version 4 client request carrying its transmit time', () => {
    const request = sntpRequest(1_000_000);
    expect(request.length).toBe(48);
    expect(request[0]).toBe(0x23);
    expect(fromNtpTimestamp(request, 40)).toBeCloseTo(1_000_000, 3);
  });

  it('computes the offset of a clock that is an hour behind', () => {
    const sent = 1_000_000_000;
    const request = sntpRequest(sent);
    const hour = 3_600_000;
    const result = readSntpReply(reply(request, sent + hour + 10, sent + hour + 12), request, sent, sent + 24);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.offsetMs).toBeCloseTo(hour - 1, 3);
      expect(result.roundTripMs).toBeCloseTo(22, 3);
      expect(result.stratum).toBe(2);
    }
  });

  it('rejects replies that are not answers to our request or come from an unsynchronised server', () => {
    const request = sntpRequest(5_000);
    expect(readSntpReply(reply(sntpRequest(6_000), 5_000, 5_000), request, 5_000, 5_001)).toEqual({ ok: false, reason: 'reply does not answer our request' });
    expect(readSntpReply(reply(request, 5_000, 5_000, { first: (4 << 3) | 3 }), request, 5_000, 5_001)).toMatchObject({ ok: false, reason: 'not a server reply (mode 3)' });
    expect(readSntpReply(reply(request, 5_000, 5_000, { stratum: 0 }), request, 5_000, 5_001)).toMatchObject({ ok: false });
    expect(readSntpReply(reply(request, 5_000, 5_000, { first: (3 << 6) | (4 << 3) | 4 }), request, 5_000, 5_001)).toEqual({ ok: false, reason: 'server is not synchronised' });
    expect(readSntpReply(Buffer.alloc(10), request, 5_000, 5_001)).toEqual({ ok: false, reason: 'short reply (10 bytes)' });
  });
});
