import { OcinitError } from '../log/errors.ts';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  type: TarEntryType;
  /** The name exactly as in the archive (PAX/GNU long names applied). */
  path: string;
  linkTarget: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (PAX gives fractions). */
  mtime: number;
  devMajor: number;
  devMinor: number;
  xattrs: Map<string, Buffer>;
}

/** Receives a regular file's bytes; `close` is called once all of them arrived. */
export interface EntryBody {
  write(chunk: Buffer): void;
  close(): void | Promise<void>;
  /** Called instead of `close` when the archive fails before the entry's last byte. */
  abort?(): void;
}

export interface TarSink {
  /** Return a body for regular files (or undefined to skip the bytes). */
  entry(entry: TarEntry): EntryBody | undefined | Promise<EntryBody | undefined>;
}

const BLOCK = 512;
export const MAX_META_BYTES = 1024 * 1024;
const MAX_LONG_NAME = 64 * 1024;
const MAX_PATH = 4096;
const MAX_ID = 0xfffffffe;
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;

export class TarFormatError extends OcinitError {
  override readonly code: string = 'OCINIT_TAR_FORMAT';
}

function malformed(reason: string): TarFormatError {
  return new TarFormatError(`malformed layer archive: ${reason}`, { hint: 'the layer is corrupt or hostile; rebuild and push the image again' });
}

/** A NUL-terminated field, read in place (subarrays cost more than the lookup itself). */
function cString(block: Buffer, start: number, length: number): string {
  const nul = block.indexOf(0, start);
  return block.toString('utf8', start, nul < 0 || nul > start + length ? start + length : nul);
}

/** Octal ASCII or GNU base-256; throws on garbage and on negative base-256 values. */
function numeric(block: Buffer, start: number, length: number, what: string): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw malformed(`negative ${what}`);
    let value = first & 0x7f;
    for (let index = start + 1; index < start + length; index++) {
      value = value * 256 + (block[index] ?? 0);
      if (!Number.isSafeInteger(value)) throw malformed(`${what} out of range`);
    }
    return value;
  }
  // Octal digits, optionally led by spaces and ended by NULs or spaces. Read byte by byte in place:
  // every header has eight such fields, and subarrays, string conversions and regexps cost more
  // than the rest of it.
  let end = start + length;
  while (end > start && (block[end - 1] === 0 || block[end - 1] === 0x20)) end--;
  let begin = start;
  while (begin < end && block[begin] === 0x20) begin++;
  let value = 0;
  for (let index = begin; index < end; index++) {
    const digit = (block[index] ?? 0) - 0x30;
    if (digit < 0 || digit > 7) throw malformed(`${what} field is not octal (${JSON.stringify(block.toString('latin1', begin, end))})`);
    value = value * 8 + digit;
  }
  if (!Number.isSafeInteger(value)) throw malformed(`${what} out of range`);
  return value;
}

const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** A block's bytes as 32-bit words (a header's subarray need not be 4-byte aligned). */
const WORDS = new Uint32Array(BLOCK / 4);
const WORD_BYTES = new Uint8Array(WORDS.buffer);
const LOW_BYTES = 0x00ff00ff;

/**
 * The unsigned byte sum of a header with its checksum field (bytes 148 to 155) counted as eight
 * spaces. Under TCG the first layer's headers run in V8's interpreter, where a loop over 512 bytes
 * made the header the largest cost of unpacking the busybox demo (285 entries: 0.45 s of 0.75 s
 * under qemu-user): the words are summed two bytes at a time, four words per turn (each 16-bit
 * lane of the sum stays below 65536 over 128 words).
 */
function unsignedSum(block: Buffer): number {
  WORD_BYTES.set(block);
  let lanes = 0;
  for (let index = 0; index < WORDS.length; index += 4) {
    const a = WORDS[index] ?? 0;
    const b = WORDS[index + 1] ?? 0;
    const c = WORDS[index + 2] ?? 0;
    const d = WORDS[index + 3] ?? 0;
    lanes += (a & LOW_BYTES) + ((a >>> 8) & LOW_BYTES) + (b & LOW_BYTES) + ((b >>> 8) & LOW_BYTES) + (c & LOW_BYTES) + ((c >>> 8) & LOW_BYTES) + (d & LOW_BYTES) + ((d >>> 8) & LOW_BYTES);
  }
  let sum = (lanes & 0xffff) + (lanes >>> 16) + 8 * 0x20;
  for (let index = 148; index < 156; index++) sum -= block[index] ?? 0;
  return sum;
}

function checksumMatches(block: Buffer): boolean {
  const stored = numeric(block, 148, 8, 'checksum');
  const unsigned = unsignedSum(block);
  if (stored === unsigned) return true;
  // Old tars summed signed bytes.
  let highBytes = 0;
  for (let index = 0; index < BLOCK; index++) {
    if (index === 148) index = 156;
    if ((block[index] ?? 0) > 127) highBytes++;
  }
  return stored === unsigned - 256 * highBytes;
}

function parsePax(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset);
    if (space < 0 || space - offset > 20) throw malformed('PAX record without a length');
    const lengthText = body.subarray(offset, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lengthText)) throw malformed('PAX record with an invalid length');
    const length = Number(lengthText);
    const end = offset + length;
    if (end > body.length || body[end - 1] !== 0x0a) throw malformed('PAX record overruns its header');
    const record = body.subarray(space + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw malformed('PAX record without key=value');
    records.set(record.subarray(0, equals).toString('utf8'), Buffer.from(record.subarray(equals + 1)));
    offset = end;
  }
  return records;
}

function paxNumber(value: Buffer, key: string, max: number): number {
  const text = value.toString('latin1');
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) throw malformed(`PAX ${key} is not a number (${JSON.stringify(text.slice(0, 40))})`);
  const number = Number(text);
  if (!Number.isFinite(number) || number > max) throw malformed(`PAX ${key} out of range`);
  return number;
}

function checkName(name: string, what: string): string {
  if (name.includes('\0')) throw malformed(`${what} contains a NUL byte`);
  if (name.length > MAX_PATH) throw malformed(`${what} longer than ${MAX_PATH} bytes`);
  return name;
}

type State = 'header' | 'body' | 'meta' | 'padding' | 'done';

/**
 * A streaming tar reader (POSIX ustar, PAX, GNU long names) that rejects what it does not fully
 * understand: bad checksums, unknown entry types, sizes on entries that cannot have data, oversized
 * metadata records, NUL in names, out-of-range ids and device numbers, truncation. Bytes after the
 * end-of-archive marker are accepted and ignored (the caller hashes them).
 */
export class TarReader {
  readonly #sink: TarSink;
  #state: State = 'header';
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #remaining = 0;
  #padding = 0;
  #body: EntryBody | undefined;
  #metaType = '';
  #meta: Buffer[] = [];
  #pax = new Map<string, Buffer>();
  #globalPax = new Map<string, Buffer>();
  #longName: string | undefined;
  #longLink: string | undefined;
  #entries = 0;
  bytes = 0;

  constructor(sink: TarSink) {
    this.#sink = sink;
  }

  get entries(): number {
    return this.#entries;
  }

  async write(chunk: Buffer): Promise<void> {
    try {
      await this.#write(chunk);
    } catch (error) {
      this.abandon();
      throw error;
    }
  }

  async #write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.#state) {
        case 'done':
          return;
        case 'header': {
          const needed = BLOCK - this.#pendingLength;
          if (this.#pendingLength === 0 && chunk.length - offset >= BLOCK) {
            const block = chunk.subarray(offset, offset + BLOCK);
            offset += BLOCK;
            const pending = this.#header(block);
            if (pending !== undefined) await pending;
          } else {
            const piece = chunk.subarray(offset, offset + needed);
            this.#pending.push(piece);
            this.#pendingLength += piece.length;
            offset += piece.length;
            if (this.#pendingLength === BLOCK) {
              const block = Buffer.concat(this.#pending, BLOCK);
              this.#pending = [];
              this.#pendingLength = 0;
              const pending = this.#header(block);
              if (pending !== undefined) await pending;
            }
          }
          break;
        }
        case 'body':
        case 'meta': {
          const take = Math.min(this.#remaining, chunk.length - offset);
          const piece = chunk.subarray(offset, offset + take);
          offset += take;
          this.#remaining -= take;
          if (this.#state === 'body') this.#body?.write(piece);
          else this.#meta.push(Buffer.from(piece));
          if (this.#remaining === 0) {
            const pending = this.#state === 'body' ? this.#finishBody() : this.#finishMeta();
            if (pending !== undefined) await pending;
          }
          break;
        }
        case 'padding': {
          const take = Math.min(this.#padding, chunk.length - offset);
          offset += take;
          this.#padding -= take;
          if (this.#padding === 0) this.#state = 'header';
          break;
        }
      }
    }
  }

  /** Call when the stream ended: fails if it ended inside an entry. */
  end(): void {
    try {
      this.#end();
    } catch (error) {
      this.abandon();
      throw error;
    }
  }

  /** The archive will not be finished (it failed here or upstream): the open entry's body is aborted. */
  abandon(): void {
    const body = this.#body;
    this.#body = undefined;
    this.#state = 'done';
    body?.abort?.();
  }

  #end(): void {
    if (this.#state === 'done') return;
    if (this.#state !== 'header' || this.#pendingLength !== 0) throw malformed('truncated (the stream ended inside an entry)');
    if (this.#longName !== undefined || this.#longLink !== undefined || this.#pax.size > 0) throw malformed('truncated (metadata without its entry)');
    // A missing end-of-archive marker is tolerated, as GNU tar does.
  }

  #afterData(size: number): void {
    this.#padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.#state = this.#padding === 0 ? 'header' : 'padding';
  }

  #finishBody(): void | Promise<void> {
    const body = this.#body;
    this.#body = undefined;
    this.#afterData(this.#dataSize);
    return body?.close();
  }

  #dataSize = 0;

  #finishMeta(): void {
    const body = Buffer.concat(this.#meta);
    this.#meta = [];
    this.#afterData(body.length);
    switch (this.#metaType) {
      case 'x':
        for (const [key, value] of parsePax(body)) this.#pax.set(key, value);
        break;
      case 'g':
        for (const [key, value] of parsePax(body)) this.#globalPax.set(key, value);
        break;
      case 'L':
        this.#longName = checkName(body.toString('utf8').replace(/\0+$/, ''), 'GNU long name');
        break;
      case 'K':
        this.#longLink = checkName(body.toString('utf8').replace(/\0+$/, ''), 'GNU long link name');
        break;
    }
  }

  #header(block: Buffer): void | Promise<void> {
    if (block.equals(ZERO_BLOCK)) {
      this.#state = 'done';
      return;
    }
    if (!checksumMatches(block)) throw malformed(`bad header checksum after ${this.#entries} entries`);
    const typeFlag = String.fromCharCode(block[156] ?? 0);
    const size = numeric(block, 124, 12, 'size');
    const magic = block.subarray(257, 263).toString('latin1');
    const ustar = magic === 'ustar\0' || magic === 'ustar ';

    if (typeFlag === 'x' || typeFlag === 'g' || typeFlag === 'L' || typeFlag === 'K') {
      const cap = typeFlag === 'L' || typeFlag === 'K' ? MAX_LONG_NAME : MAX_META_BYTES;
      if (size > cap) throw malformed(`${typeFlag === 'x' || typeFlag === 'g' ? 'PAX header' : 'GNU long name'} of ${size} bytes (limit ${cap})`);
      this.#metaType = typeFlag;
      this.#remaining = size;
      if (size === 0) {
        this.#finishMeta();
        return;
      }
      this.#state = 'meta';
      return;
    }

    const pax = new Map([...this.#globalPax, ...this.#pax]);
    this.#pax = new Map();
    let path = cString(block, 0, 100);
    if (magic === 'ustar\0') {
      const prefix = cString(block, 345, 155);
      if (prefix !== '') path = `${prefix}/${path}`;
    }
    let linkTarget = cString(block, 157, 100);
    if (this.#longName !== undefined) path = this.#longName;
    if (this.#longLink !== undefined) linkTarget = this.#longLink;
    this.#longName = undefined;
    this.#longLink = undefined;
    const paxPath = pax.get('path');
    if (paxPath !== undefined) path = checkName(paxPath.toString('utf8'), 'PAX path');
    const paxLink = pax.get('linkpath');
    if (paxLink !== undefined) linkTarget = checkName(paxLink.toString('utf8'), 'PAX linkpath');
    for (const key of pax.keys()) if (key.startsWith('GNU.sparse')) throw malformed(`sparse files are not supported (${path})`);

    const entry: TarEntry = {
      type: 'file',
      path,
      linkTarget,
      mode: numeric(block, 100, 8, 'mode') & 0o7777,
      uid: numeric(block, 108, 8, 'uid'),
      gid: numeric(block, 116, 8, 'gid'),
      size,
      mtime: numeric(block, 136, 12, 'mtime'),
      devMajor: ustar ? numeric(block, 329, 8, 'device major') : 0,
      devMinor: ustar ? numeric(block, 337, 8, 'device minor') : 0,
      xattrs: new Map(),
    };
    const paxSize = pax.get('size');
    if (paxSize !== undefined) entry.size = paxNumber(paxSize, 'size', Number.MAX_SAFE_INTEGER);
    const paxUid = pax.get('uid');
    if (paxUid !== undefined) entry.uid = paxNumber(paxUid, 'uid', Number.MAX_SAFE_INTEGER);
    const paxGid = pax.get('gid');
    if (paxGid !== undefined) entry.gid = paxNumber(paxGid, 'gid', Number.MAX_SAFE_INTEGER);
    const paxMtime = pax.get('mtime');
    if (paxMtime !== undefined) entry.mtime = paxNumber(paxMtime, 'mtime', 1e12);
    for (const [key, value] of pax) if (key.startsWith('SCHILY.xattr.')) entry.xattrs.set(key.slice('SCHILY.xattr.'.length), value);

    checkName(entry.path, 'entry name');
    if (entry.path === '') throw malformed('entry with an empty name');
    if (entry.uid > MAX_ID || entry.gid > MAX_ID) throw malformed(`uid/gid ${entry.uid}/${entry.gid} out of range (${entry.path})`);
    if (!Number.isInteger(entry.size)) throw malformed(`fractional size (${entry.path})`);

    switch (typeFlag) {
      case '0':
      case '\0':
      case '7':
        entry.type = entry.path.endsWith('/') && typeFlag === '\0' ? 'directory' : 'file';
        break;
      case '1':
        entry.type = 'hardlink';
        break;
      case '2':
        entry.type = 'symlink';
        break;
      case '3':
        entry.type = 'char';
        break;
      case '4':
        entry.type = 'block';
        break;
      case '5':
        entry.type = 'directory';
        break;
      case '6':
        entry.type = 'fifo';
        break;
      default:
        throw malformed(`unsupported entry type '${typeFlag.replace(/[^\x20-\x7e]/g, '?')}' (${entry.path})`);
    }
    if ((entry.type === 'symlink' || entry.type === 'hardlink') && entry.linkTarget === '') throw malformed(`${entry.type} without a target (${entry.path})`);
    if (entry.type === 'char' || entry.type === 'block') {
      if (entry.devMajor > MAX_MAJOR || entry.devMinor > MAX_MINOR) throw malformed(`device number ${entry.devMajor}:${entry.devMinor} out of range (${entry.path})`);
    }
    if (entry.size > 0 && entry.type !== 'file' && entry.type !== 'hardlink') throw malformed(`${entry.type} entry with ${entry.size} bytes of data (${entry.path})`);
    this.#entries++;

    const result = this.#sink.entry(entry);
    const begin = (body: EntryBody | undefined): void | Promise<void> => {
      this.#body = body;
      this.#dataSize = entry.size;
      this.#remaining = entry.size;
      if (entry.size === 0) return this.#finishBody();
      this.#state = 'body';
    };
    if (result instanceof Promise) return result.then(begin);
    return begin(result);
  }
}
