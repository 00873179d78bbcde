// Crash-safe small writes: a reader (or the next boot after a power cut) sees the old content or
// the new one, never a torn file.
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Suffix of temporary files; whatever carries it after a crash is a leftover (see layout.ts). */
export const TEMP_SUFFIX = '.ocinit-tmp';

export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to a temp file beside `path`, fsyncs it, renames it over `path`, fsyncs the directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}${TEMP_SUFFIX}`);
  const handle = await open(temp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
}
