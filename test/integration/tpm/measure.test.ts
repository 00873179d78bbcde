// PCR measurement against Debian's swtpm: what the TPM reads back equals what the event log
// replays to, and what a hash chain computed here independently gives.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankId, pcrExtendCommand, pcrReadCommand, parsePcrRead } from '../../../src/tpm/commands.ts';
import { PcrMeasurer, replayEventLog, type EventLog } from '../../../src/tpm/measure.ts';
import { startSwtpm, type TestTpm } from '../../support/swtpm.ts';

let tpm: TestTpm;

beforeAll(async () => {
  tpm = await startSwtpm();
});

afterAll(async () => {
  await tpm?.stop();
});

describe('PCR measurement with swtpm', () => {
  it('extends every active bank; the PCR read back equals the event log replayed and an independent hash chain', async () => {
    const measurer = await PcrMeasurer.open(tpm.transport, 15);
    expect(measurer.banks).toContain('sha256');
    const zero = Object.fromEntries(measurer.banks.map((bank) => [bank, '00'.repeat(createHash(bank).digest().length)]));
    expect(measurer.log.initial).toEqual(zero);
    const events = ['console=ttyS0 b2c.container=registry.lab/app:1', 'image registry.lab/app:1@sha256:' + '1'.repeat(64) + ' signed: …'];
    await measurer.measure('cmdline', events[0] ?? '');
    await measurer.measure('image', events[1] ?? '');
    const read = await measurer.read();
    expect(replayEventLog(measurer.log)).toEqual(read);
    let expected = Buffer.alloc(32);
    for (const data of events) expected = createHash('sha256').update(Buffer.concat([expected, createHash('sha256').update(data).digest()])).digest();
    expect(read.sha256).toBe(expected.toString('hex'));
    // The log survives a round trip through JSON (it is written as a file) and a tampered one fails.
    const copy = JSON.parse(JSON.stringify(measurer.log)) as EventLog;
    expect(replayEventLog(copy)).toEqual(read);
    const tampered = { ...copy, events: copy.events.map((event, index) => (index === 1 ? { ...event, data: 'image something else' } : event)) };
    expect(() => replayEventLog(tampered)).toThrow(/does not match its data/);
    // Another PCR is untouched.
    const other = await tpm.transport.transmit(pcrReadCommand(14, bankId('sha256') ?? 0));
    expect(parsePcrRead(other).toString('hex')).toBe('00'.repeat(32));
  });

  it('an extend of one sha256 bank is the 65-byte command', () => {
    expect(pcrExtendCommand(15, [{ bank: bankId('sha256') ?? 0, digest: Buffer.alloc(32) }])).toHaveLength(65);
  });
});
