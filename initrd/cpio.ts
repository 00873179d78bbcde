// A reproducible writer for the newc cpio format the kernel unpacks into its initramfs.
// Entries are written in the order given, with fixed inode numbers, owner 0 and one mtime, so the
// same entries always give the same bytes (GNU cpio would take all of these from the filesystem).
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';

export type CpioEntry =
  | { type: 'directory'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; source: string; size: number }
  | { type: 'inline'; path: string; mode: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char-device'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`cpio field out of range: ${value}`);
  return value.toString(16).padStart(8, '0');
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

interface HeaderFields {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  name: string;
}

function header(fields: HeaderFields): Buffer {
  const name = Buffer.from(`${fields.name}\0`);
  const text = [
    '070701',
    hex8(fields.ino),
    hex8(fields.mode),
    hex8(0), // uid
    hex8(0), // gid
    hex8(fields.nlink),
    hex8(fields.mtime),
    hex8(fields.size),
    hex8(0), // devmajor
    hex8(0), // devminor
    hex8(fields.rdevMajor),
    hex8(fields.rdevMinor),
    hex8(name.length),
    hex8(0), // check
  ].join('');
  const head = Buffer.concat([Buffer.from(text, 'ascii'), name]);
  return Buffer.concat([head, padding(head.length)]);
}

/** Archive path: relative, no leading slash, as the kernel expects. */
function archiveName(path: string): string {
  return path.replace(/^\/+/, '') || '.';
}

async function writeChunk(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

/** Writes `entries` then the trailer to `out`; returns the number of bytes written. */
export async function writeCpio(entries: readonly CpioEntry[], out: Writable, mtime: number): Promise<number> {
  let written = 0;
  const emit = async (chunk: Buffer): Promise<void> => {
    written += chunk.length;
    await writeChunk(out, chunk);
  };
  let ino = 1;
  for (const entry of entries) {
    const base = { ino: ino++, mtime, name: archiveName(entry.path), rdevMajor: 0, rdevMinor: 0 };
    switch (entry.type) {
      case 'directory':
        await emit(header({ ...base, mode: S_IFDIR | entry.mode, nlink: 2, size: 0 }));
        break;
      case 'char-device':
        await emit(header({ ...base, mode: S_IFCHR | entry.mode, nlink: 1, size: 0, rdevMajor: entry.major, rdevMinor: entry.minor }));
        break;
      case 'symlink': {
        const target = Buffer.from(entry.target);
        await emit(header({ ...base, mode: S_IFLNK | 0o777, nlink: 1, size: target.length }));
        await emit(Buffer.concat([target, padding(target.length)]));
        break;
      }
      case 'inline':
        await emit(header({ ...base, mode: S_IFREG | entry.mode, nlink: 1, size: entry.data.length }));
        await emit(Buffer.concat([entry.data, padding(entry.data.length)]));
        break;
      case 'file': {
        await emit(header({ ...base, mode: S_IFREG | entry.mode, nlink: 1, size: entry.size }));
        let copied = 0;
        for await (const chunk of createReadStream(entry.source)) {
          const buffer = chunk as Buffer;
          copied += buffer.length;
          await emit(buffer);
        }
        if (copied !== entry.size) throw new Error(`${entry.source} changed size while being archived (${entry.size} → ${copied})`);
        await emit(padding(entry.size));
        break;
      }
    }
  }
  await emit(header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, rdevMajor: 0, rdevMinor: 0, name: 'TRAILER!!!' }));
  return written;
}
