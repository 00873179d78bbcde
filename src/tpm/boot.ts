// What a boot measures (b2c.tpm): the kernel command line once, then each image the boot admits,
// with its digests and signature verdict, before it runs; with b2c.image_format=erofs, each
// image's dm-verity root hash too, before the kernel is given it. The event log is rewritten after each
// measurement under /run/ocinit/ and printed on the console, so the PCR can be recomputed anywhere.
import { renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { TpmDevice, tpmPresent, TPM_DEVICE } from '../system/tpm-device.ts';
import { TpmError } from './commands.ts';
import { PcrMeasurer } from './measure.ts';

export const EVENT_LOG_FILE = '/run/ocinit/tpm-eventlog.json';
/** The console line carrying the event log as JSON. */
export const EVENT_LOG_MARKER = 'ocinit-tpm-eventlog:';

export interface MeasurementSettings {
  mode: 'auto' | 'required' | 'off';
  pcr: number;
  cmdline: string;
  log: Logger;
  device?: string;
  logFile?: string;
}

export interface MeasuredImage {
  reference: string;
  topDigest: string;
  manifestDigest: string;
  verdict: string;
}

/** The exact text measured for an image. */
export function imageEventData(image: MeasuredImage): string {
  return JSON.stringify({ image: image.reference, digest: image.topDigest, manifest: image.manifestDigest, signature: image.verdict });
}

/** An image's verity root, as its device-mapper table will name it. */
export interface MeasuredVerityRoot {
  reference: string;
  manifestDigest: string;
  rootHash: string;
  dataBlocks: number;
  /** `built` from the image's tree during this boot, or `cache`: a cache disk's image and record reused. */
  source: 'built' | 'cache';
}

/** The exact text measured for a verity root (event type `verity`). */
export function verityEventData(root: MeasuredVerityRoot): string {
  return JSON.stringify({ image: root.reference, manifest: root.manifestDigest, rootHash: root.rootHash, dataBlocks: root.dataBlocks, source: root.source });
}

/** What the run's summary says of the measurements (the `tpm` field). */
export interface TpmRecord {
  pcr: number;
  /** The active banks extended, e.g. `sha1`, `sha256`. */
  banks: string[];
  /** The JSON event log the PCR can be recomputed from. */
  eventLog: string;
  events: number;
}

export class BootMeasurement {
  readonly #settings: MeasurementSettings;
  #measurer: Promise<PcrMeasurer | undefined> | undefined;

  constructor(settings: MeasurementSettings) {
    this.#settings = settings;
  }

  #open(): Promise<PcrMeasurer | undefined> {
    this.#measurer ??= (async () => {
      const { mode, pcr, log } = this.#settings;
      const device = this.#settings.device ?? TPM_DEVICE;
      if (mode === 'off') return undefined;
      if (!tpmPresent(device)) {
        if (mode === 'required') throw new TpmError(`b2c.tpm=required, but there is no TPM (${device}): nothing may run unmeasured`);
        log.info(`tpm: no ${device}; nothing is measured`);
        return undefined;
      }
      try {
        const measurer = await PcrMeasurer.open(await TpmDevice.open(device), pcr);
        await measurer.measure('cmdline', this.#settings.cmdline);
        log.info(`tpm: measuring into PCR ${pcr} (${measurer.banks.join(', ')}); event log ${this.#settings.logFile ?? EVENT_LOG_FILE}`);
        return measurer;
      } catch (error) {
        return this.#unmeasured(error);
      }
    })();
    return this.#measurer;
  }

  /**
   * A TPM that fails: b2c.tpm=required refuses the image; auto (a job that ran on boot2container,
   * which measured nothing) goes on unmeasured, saying so in red.
   */
  #unmeasured(error: unknown): undefined {
    if (this.#settings.mode === 'required') throw error;
    this.#settings.log.error(`tpm: ${(error as Error).message}; going on without measuring (b2c.tpm=required would refuse)`);
    this.#measurer = Promise.resolve(undefined);
    return undefined;
  }

  /** Extends the PCR with the image (and, the first time, the command line) before it runs. */
  async measureImage(image: MeasuredImage): Promise<void> {
    await this.#measure('image', imageEventData(image), image.reference);
  }

  /** Extends the PCR with an image's verity root hash before the kernel is given it (b2c.image_format=erofs). */
  async measureVerityRoot(root: MeasuredVerityRoot): Promise<void> {
    await this.#measure('verity', verityEventData(root), `the verity root of ${root.reference}`);
  }

  /** Where this boot's measurements went; undefined when nothing was measured (no TPM, b2c.tpm=off, a TPM that failed). */
  async record(): Promise<TpmRecord | undefined> {
    const measurer = await this.#measurer?.catch(() => undefined);
    if (measurer === undefined) return undefined;
    return { pcr: measurer.log.pcr, banks: [...measurer.banks], eventLog: this.#settings.logFile ?? EVENT_LOG_FILE, events: measurer.log.events.length };
  }

  async #measure(type: string, data: string, what: string): Promise<void> {
    const measurer = await this.#open();
    if (measurer === undefined) return;
    try {
      await measurer.measure(type, data);
    } catch (error) {
      this.#unmeasured(error);
      return;
    }
    const file = this.#settings.logFile ?? EVENT_LOG_FILE;
    const text = JSON.stringify(measurer.log);
    writeFileSync(`${file}.tmp`, `${text}\n`);
    renameSync(`${file}.tmp`, file);
    const values = await measurer.read();
    this.#settings.log.info(`tpm: PCR ${measurer.log.pcr} after ${what}: ${Object.entries(values).map(([bank, value]) => `${bank}=${value}`).join(' ')}`);
    this.#settings.log.info(`${EVENT_LOG_MARKER} ${text}`);
  }
}
