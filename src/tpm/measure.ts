// Measures what a boot runs into one PCR of every active bank, with a JSON event log from which
// the PCR's value can be recomputed (replayEventLog): PCR ← H(PCR ‖ H(event data)) per bank.
import { createHash, getHashes } from 'node:crypto';
import { DEFAULT_PCR, isValidPcr } from './pcr.ts';
import { BANKS, checkPcrExtend, getPcrBanksCommand, parsePcrBanks, parsePcrRead, pcrExtendCommand, pcrReadCommand, TpmError } from './commands.ts';

/** Sends one command and returns the whole response (/dev/tpmrm0, or swtpm's socket in tests). */
export interface TpmTransport {
  transmit(command: Buffer): Promise<Buffer>;
}

export { DEFAULT_PCR } from './pcr.ts';

export interface MeasuredEvent {
  /** `cmdline`; `image` for one container's image and verdict; `verity` for an image's dm-verity root hash. */
  type: string;
  /** The exact text measured (UTF-8). */
  data: string;
  /** H(data) per bank, hex: what was extended. */
  digests: Record<string, string>;
}

export interface EventLog {
  version: 1;
  pcr: number;
  /** The PCR's value per bank before ocinit's first extend (zero after a reset). */
  initial: Record<string, string>;
  events: MeasuredEvent[];
}

/** The PCR value per bank that the log's events lead to from its initial values. */
export function replayEventLog(log: EventLog): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [bank, initial] of Object.entries(log.initial)) {
    let value = Buffer.from(initial, 'hex');
    for (const event of log.events) {
      const digest = createHash(bank).update(event.data, 'utf8').digest();
      if (event.digests[bank] !== digest.toString('hex')) throw new TpmError(`event log: the ${bank} digest of a ${event.type} event does not match its data`);
      value = createHash(bank).update(Buffer.concat([value, digest])).digest();
    }
    values[bank] = value.toString('hex');
  }
  return values;
}

export class PcrMeasurer {
  readonly #transport: TpmTransport;
  readonly #banks: { id: number; name: string }[];
  readonly log: EventLog;

  private constructor(transport: TpmTransport, banks: { id: number; name: string }[], log: EventLog) {
    this.#transport = transport;
    this.#banks = banks;
    this.log = log;
  }

  /** Finds the active banks and reads the PCR's value in each. */
  static async open(transport: TpmTransport, pcr = DEFAULT_PCR): Promise<PcrMeasurer> {
    if (!isValidPcr(pcr)) throw new TpmError(`PCR ${pcr} does not exist (0-23)`);
    const available = new Set(getHashes());
    const banks: { id: number; name: string }[] = [];
    for (const id of parsePcrBanks(await transport.transmit(getPcrBanksCommand()))) {
      const bank = BANKS[id];
      if (bank === undefined || !available.has(bank.name)) throw new TpmError(`the TPM has an active PCR bank of algorithm 0x${id.toString(16)}, which ocinit cannot compute; nothing is measured into a PCR left half extended`);
      banks.push({ id, name: bank.name });
    }
    if (banks.length === 0) throw new TpmError('the TPM has no active PCR bank');
    const initial: Record<string, string> = {};
    for (const bank of banks) initial[bank.name] = (await readPcr(transport, pcr, bank.id)).toString('hex');
    return new PcrMeasurer(transport, banks, { version: 1, pcr, initial, events: [] });
  }

  get banks(): string[] {
    return this.#banks.map((bank) => bank.name);
  }

  /** Extends the PCR in every active bank with H(data), and records the event. */
  async measure(type: string, data: string): Promise<MeasuredEvent> {
    const digests = this.#banks.map((bank) => ({ bank: bank.id, name: bank.name, digest: createHash(bank.name).update(data, 'utf8').digest() }));
    checkPcrExtend(await this.#transport.transmit(pcrExtendCommand(this.log.pcr, digests)));
    const event: MeasuredEvent = { type, data, digests: Object.fromEntries(digests.map((entry) => [entry.name, entry.digest.toString('hex')])) };
    this.log.events.push(event);
    return event;
  }

  /** The PCR as the TPM has it now, per bank. */
  async read(): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    for (const bank of this.#banks) values[bank.name] = (await readPcr(this.#transport, this.log.pcr, bank.id)).toString('hex');
    return values;
  }
}

async function readPcr(transport: TpmTransport, pcr: number, bank: number): Promise<Buffer> {
  return parsePcrRead(await transport.transmit(pcrReadCommand(pcr, bank)));
}
