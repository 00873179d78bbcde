import { describe, expect, it } from 'vitest';
import { getPcrBanksCommand, parsePcrBanks, parsePcrRead, pcrExtendCommand, pcrReadCommand, TpmError } from '../../../src/tpm/commands.ts';

function response(code: number, body: Buffer): Buffer {
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + body.length, 2);
  header.writeUInt32BE(code, 6);
  return Buffer.concat([header, body]);
}

describe('TPM2 command encoding', () => {
  it('encodes the three commands as the TPM 2.0 library specifies them', () => {
    expect(getPcrBanksCommand().toString('hex')).toBe('80010000001600000' + '17a' + '00000005' + '00000000' + '00000001');
    expect(pcrReadCommand(15, 0x000b).toString('hex')).toBe('8001000000140000017e' + '00000001' + '000b' + '03' + '008000');
    const extend = pcrExtendCommand(15, [{ bank: 0x000b, digest: Buffer.alloc(32, 0xab) }]);
    expect(extend.subarray(0, 10).toString('hex')).toBe('800200000041' + '00000182');
    expect(extend.subarray(10, 27).toString('hex')).toBe('0000000f' + '00000009' + '40000009' + '0000' + '00' + '0000');
    expect(extend.subarray(27).toString('hex')).toBe('00000001' + '000b' + 'ab'.repeat(32));
  });

  it('decodes the active banks, skipping those with no PCR selected', () => {
    const body = Buffer.from('00' + '00000005' + '00000002' + '0004' + '03' + '000000' + '000b' + '03' + 'ffffff', 'hex');
    expect(parsePcrBanks(response(0, body))).toEqual([0x000b]);
  });

  it('decodes a PCR value, and refuses failure codes and truncated answers', () => {
    const body = Buffer.concat([Buffer.from('00000007' + '00000001' + '000b' + '03' + '008000' + '00000001' + '0020', 'hex'), Buffer.alloc(32, 7)]);
    expect(parsePcrRead(response(0, body))).toEqual(Buffer.alloc(32, 7));
    expect(() => parsePcrRead(response(0x0000018b, Buffer.alloc(0)))).toThrow(/refused TPM2_PCR_Read: response code 0x0000018b/);
    expect(() => parsePcrRead(response(0, body.subarray(0, 20)))).toThrow(TpmError);
    expect(() => parsePcrRead(Buffer.alloc(4))).toThrow(/4 bytes/);
  });
});
