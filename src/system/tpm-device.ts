// The TPM's resource-managed device: one write is one command, one read its whole response.
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { TpmError } from '../tpm/commands.ts';
import type { TpmTransport } from '../tpm/measure.ts';

export const TPM_DEVICE = '/dev/tpmrm0';
/** TPM2 responses ocinit asks for are far below the 4 KiB command buffer of every TPM. */
const MAX_RESPONSE = 4096;

export function tpmPresent(path = TPM_DEVICE): boolean {
  return existsSync(path);
}

export class TpmDevice implements TpmTransport {
  readonly #handle: FileHandle;
  readonly path: string;

  private constructor(handle: FileHandle, path: string) {
    this.#handle = handle;
    this.path = path;
  }

  static async open(path = TPM_DEVICE): Promise<TpmDevice> {
    try {
      return new TpmDevice(await open(path, 'r+'), path);
    } catch (error) {
      throw new TpmError(`cannot open ${path}: ${(error as Error).message}`);
    }
  }

  async transmit(command: Buffer): Promise<Buffer> {
    try {
      await this.#handle.write(command, 0, command.length, null);
      const response = Buffer.alloc(MAX_RESPONSE);
      const { bytesRead } = await this.#handle.read(response, 0, response.length, null);
      return response.subarray(0, bytesRead);
    } catch (error) {
      throw new TpmError(`${this.path}: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
