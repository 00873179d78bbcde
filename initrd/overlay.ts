// An initramfs with some files replaced, without rebuilding it: the kernel unpacks concatenated
// archives in order, later entries replacing earlier ones. Each archive must start on a 4-byte
// boundary (zero bytes between archives are skipped), so the base is padded first.
import { createWriteStream, readFileSync } from 'node:fs';
import { writeCpio, type CpioEntry } from './cpio.ts';

export async function writeOverlayInitramfs(base: string, entries: readonly CpioEntry[], out: string): Promise<void> {
  const baseBytes = readFileSync(base);
  const stream = createWriteStream(out);
  stream.write(baseBytes);
  stream.write(Buffer.alloc((4 - (baseBytes.length % 4)) % 4));
  await writeCpio(entries, stream, 0);
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
