// The events a boot measures, as text, and the replay of a log holding each kind: what a verifier
// recomputes from the log must be the chain the TPM was extended with.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { imageEventData, verityEventData } from '../../../src/tpm/boot.ts';
import { replayEventLog, type EventLog, type MeasuredEvent } from '../../../src/tpm/measure.ts';

const MANIFEST = `sha256:${'1'.repeat(64)}`;
const ROOT_HASH = 'ab'.repeat(32);

function event(type: string, data: string): MeasuredEvent {
  return { type, data, digests: { sha256: createHash('sha256').update(data).digest('hex'), sha1: createHash('sha1').update(data).digest('hex') } };
}

/** PCR ← H(PCR ‖ H(data)), written out here without measure.ts. */
function chain(bank: string, size: number, data: string[]): string {
  let value = Buffer.alloc(size);
  for (const text of data) value = createHash(bank).update(value).update(createHash(bank).update(text).digest()).digest();
  return value.toString('hex');
}

describe('TPM events', () => {
  it('a verity root is measured as JSON naming the image, the manifest digest it is bound to, its root hash and where it came from', () => {
    expect(verityEventData({ reference: 'registry.lab/app:1', manifestDigest: MANIFEST, rootHash: ROOT_HASH, dataBlocks: 2048, source: 'cache' })).toBe(
      `{"image":"registry.lab/app:1","manifest":"${MANIFEST}","rootHash":"${ROOT_HASH}","dataBlocks":2048,"source":"cache"}`,
    );
    expect(imageEventData({ reference: 'registry.lab/app:1', topDigest: MANIFEST, manifestDigest: MANIFEST, verdict: 'unsigned: no policy' })).toBe(
      `{"image":"registry.lab/app:1","digest":"${MANIFEST}","manifest":"${MANIFEST}","signature":"unsigned: no policy"}`,
    );
  });

  it('a log with the command line, an image and its verity root replays to the hash chain of the three, in every bank', () => {
    const data = [
      'console=ttyS0 b2c.image_format=erofs b2c.container=registry.lab/app:1',
      imageEventData({ reference: 'registry.lab/app:1', topDigest: MANIFEST, manifestDigest: MANIFEST, verdict: 'unsigned: no policy' }),
      verityEventData({ reference: 'registry.lab/app:1', manifestDigest: MANIFEST, rootHash: ROOT_HASH, dataBlocks: 2048, source: 'built' }),
    ];
    const log: EventLog = { version: 1, pcr: 15, initial: { sha256: '00'.repeat(32), sha1: '00'.repeat(20) }, events: [event('cmdline', data[0] ?? ''), event('image', data[1] ?? ''), event('verity', data[2] ?? '')] };
    expect(replayEventLog(log)).toEqual({ sha256: chain('sha256', 32, data), sha1: chain('sha1', 20, data) });
    // Without the verity event the PCR is another: the root hash is part of what was measured.
    expect(replayEventLog({ ...log, events: log.events.slice(0, 2) }).sha256).not.toBe(chain('sha256', 32, data));
  });

  it('a log whose verity event was edited (another root hash) does not replay', () => {
    const original = event('verity', verityEventData({ reference: 'registry.lab/app:1', manifestDigest: MANIFEST, rootHash: ROOT_HASH, dataBlocks: 2048, source: 'built' }));
    const edited = { ...original, data: original.data.replace(ROOT_HASH, 'cd'.repeat(32)) };
    const log: EventLog = { version: 1, pcr: 15, initial: { sha256: '00'.repeat(32), sha1: '00'.repeat(20) }, events: [edited] };
    expect(() => replayEventLog(log)).toThrow(/the sha256 digest of a verity event does not match its data/);
  });
});
