// A raw tar writer for tests that need bytes no well-behaved tool produces (bad checksums, hostile
// names, binary PAX values). Normal layers are built with tar-stream in image.ts.

export interface RawEntry {
  name: string;
  /** Tar type flag character ('0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, 'x' PAX...). */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Defaults to the data length. */
  size?: number;
  mtime?: number;
  linkname?: string;
  devMajor?: number;
  devMinor?: number;
  data?: Buffer | string;
  /** Records put in a PAX header before this entry (values may be binary). */
  pax?: Record<string, Buffer | string>;
  /** Add this to the correct checksum (non-zero = corrupt header). */
  checksumDelta?: number;
  /** Raw bytes to place in the header at an offset after it is built (before the checksum). */
  patch?: { offset: number; bytes: Buffer };
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0') + '\0';
}

function header(entry: RawEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(entry.name, 0, 100, 'utf8');
  block.write(octal(entry.mode ?? 0o644, 8), 100, 'latin1');
  block.write(octal(entry.uid ?? 0, 8), 108, 'latin1');
  block.write(octal(entry.gid ?? 0, 8), 116, 'latin1');
  block.write(octal(size, 12), 124, 'latin1');
  block.write(octal(entry.mtime ?? 1_700_000_000, 12), 136, 'latin1');
  block.write(entry.type ?? '0', 156, 'latin1');
  block.write(entry.linkname ?? '', 157, 100, 'utf8');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.write(octal(entry.devMajor ?? 0, 8), 329, 'latin1');
  block.write(octal(entry.devMinor ?? 0, 8), 337, 'latin1');
  if (entry.patch !== undefined) entry.patch.bytes.copy(block, entry.patch.offset);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum + (entry.checksumDelta ?? 0), 7), 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer {
  const padding = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(padding)]);
}

export function paxRecords(records: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, raw] of Object.entries(records)) {
    const value = typeof raw === 'string' ? Buffer.from(raw) : raw;
    const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    parts.push(Buffer.concat([Buffer.from(String(length)), body]));
  }
  return Buffer.concat(parts);
}

/** Builds a tar archive from raw entries, ending with two zero blocks unless `end` is false. */
export function rawTar(entries: RawEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.pax !== undefined) {
      const records = paxRecords(entry.pax);
      parts.push(header({ name: 'PaxHeader', type: 'x' }, records.length), padded(records));
    }
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data) : (entry.data ?? Buffer.alloc(0));
    parts.push(header(entry, entry.size ?? data.length), padded(data));
  }
  if (options.end ?? true) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
