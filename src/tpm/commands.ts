// Raw TPM 2.0 commands, encoded and decoded by hand (TPM 2.0 Library, Part 3): the three ocinit
// needs (the active PCR banks, extend, read) fit in a few hundred bytes, where tpm2-tools is 16 MiB.
// Pure: the bytes go to the device through src/system/tpm-device.ts.
import { OcinitError } from '../log/errors.ts';

const TPM_ST_NO_SESSIONS = 0x8001;
const TPM_ST_SESSIONS = 0x8002;
const TPM_CC_PCR_EXTEND = 0x00000182;
const TPM_CC_PCR_READ = 0x0000017e;
const TPM_CC_GET_CAPABILITY = 0x0000017a;
const TPM_CAP_PCRS = 0x00000005;
/** The empty-password session that authorises PCRs with no auth value (every PCR by default). */
const TPM_RS_PW = 0x40000009;
const PCR_SELECT_BYTES = 3;

/** The hash algorithms of PCR banks, by TPM_ALG_ID, with node:crypto's name and digest size. */
export const BANKS: Readonly<Record<number, { name: string; size: number }>> = {
  0x0004: { name: 'sha1', size: 20 },
  0x000b: { name: 'sha256', size: 32 },
  0x000c: { name: 'sha384', size: 48 },
  0x000d: { name: 'sha512', size: 64 },
  0x0012: { name: 'sm3', size: 32 },
};

export function bankId(name: string): number | undefined {
  const entry = Object.entries(BANKS).find(([, bank]) => bank.name === name);
  return entry === undefined ? undefined : Number(entry[0]);
}

export class TpmError extends OcinitError {
  override readonly code: string = 'OCINIT_TPM';
  /** The TPM's response code (TPM_RC), when it answered with one. */
  readonly responseCode: number | undefined;

  constructor(message: string, responseCode?: number) {
    super(message, { hint: 'check the TPM (dmesg | grep -i tpm); b2c.tpm=auto measures only when one answers' });
    this.responseCode = responseCode;
  }
}

function command(tag: number, code: number, body: Buffer): Buffer {
  const header = Buffer.alloc(10);
  header.writeUInt16BE(tag, 0);
  header.writeUInt32BE(10 + body.length, 2);
  header.writeUInt32BE(code, 6);
  return Buffer.concat([header, body]);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

/** The parameters of a response after its header, or a TpmError for a failure code. */
function responseBody(response: Buffer, what: string): Buffer {
  if (response.length < 10) throw new TpmError(`TPM answered ${what} with ${response.length} bytes`);
  const size = response.readUInt32BE(2);
  const code = response.readUInt32BE(6);
  if (code !== 0) throw new TpmError(`TPM refused ${what}: response code 0x${code.toString(16).padStart(8, '0')}`, code);
  if (size !== response.length) throw new TpmError(`TPM answered ${what} with a size field of ${size} for ${response.length} bytes`);
  return response.subarray(10);
}

/** A cursor that refuses to read past the end of a response. */
class Reader {
  #offset = 0;
  readonly #bytes: Buffer;
  readonly #what: string;

  constructor(bytes: Buffer, what: string) {
    this.#bytes = bytes;
    this.#what = what;
  }

  #need(count: number): void {
    if (this.#offset + count > this.#bytes.length) throw new TpmError(`TPM's answer to ${this.#what} is truncated`);
  }

  u8(): number {
    this.#need(1);
    return this.#bytes.readUInt8(this.#offset++);
  }

  u16(): number {
    this.#need(2);
    const value = this.#bytes.readUInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.#bytes.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  bytes(count: number): Buffer {
    this.#need(count);
    const value = this.#bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return value;
  }
}

/** TPM2_GetCapability(TPM_CAP_PCRS): which banks have PCRs allocated. */
export function getPcrBanksCommand(): Buffer {
  return command(TPM_ST_NO_SESSIONS, TPM_CC_GET_CAPABILITY, Buffer.concat([u32(TPM_CAP_PCRS), u32(0), u32(1)]));
}

/** The active banks (those with at least one PCR selected), as TPM_ALG_IDs. */
export function parsePcrBanks(response: Buffer): number[] {
  const reader = new Reader(responseBody(response, 'TPM2_GetCapability'), 'TPM2_GetCapability');
  reader.u8(); // moreData
  if (reader.u32() !== TPM_CAP_PCRS) throw new TpmError('TPM answered TPM2_GetCapability with another capability');
  const count = reader.u32();
  const banks: number[] = [];
  for (let index = 0; index < count; index++) {
    const hash = reader.u16();
    const selected = reader.bytes(reader.u8());
    if (selected.some((byte) => byte !== 0)) banks.push(hash);
  }
  return banks;
}

/** TPM2_PCR_Extend of `pcr` with one digest per bank (the 65-byte command for one sha256 bank). */
export function pcrExtendCommand(pcr: number, digests: readonly { bank: number; digest: Buffer }[]): Buffer {
  const session = Buffer.concat([u32(TPM_RS_PW), u16(0), Buffer.from([0]), u16(0)]);
  const values = Buffer.concat([u32(digests.length), ...digests.flatMap(({ bank, digest }) => [u16(bank), digest])]);
  return command(TPM_ST_SESSIONS, TPM_CC_PCR_EXTEND, Buffer.concat([u32(pcr), u32(session.length), session, values]));
}

export function checkPcrExtend(response: Buffer): void {
  responseBody(response, 'TPM2_PCR_Extend');
}

function pcrSelection(pcr: number): Buffer {
  const select = Buffer.alloc(PCR_SELECT_BYTES);
  select[Math.floor(pcr / 8)] = 1 << pcr % 8;
  return select;
}

/** TPM2_PCR_Read of one PCR in one bank. */
export function pcrReadCommand(pcr: number, bank: number): Buffer {
  return command(TPM_ST_NO_SESSIONS, TPM_CC_PCR_READ, Buffer.concat([u32(1), u16(bank), Buffer.from([PCR_SELECT_BYTES]), pcrSelection(pcr)]));
}

export function parsePcrRead(response: Buffer): Buffer {
  const reader = new Reader(responseBody(response, 'TPM2_PCR_Read'), 'TPM2_PCR_Read');
  reader.u32(); // pcrUpdateCounter
  const selections = reader.u32();
  for (let index = 0; index < selections; index++) {
    reader.u16();
    reader.bytes(reader.u8());
  }
  if (reader.u32() !== 1) throw new TpmError('TPM2_PCR_Read answered no digest (is the bank allocated?)');
  return Buffer.from(reader.bytes(reader.u16()));
}
