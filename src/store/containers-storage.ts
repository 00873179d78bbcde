// Read-only containers-storage overlay stores (b2c.storage=additionalimagestores=FS), as podman and
// CI-tron's gateway write them: overlay-images/images.json, overlay-layers/layers.json (+ each
// layer's tar-split), overlay/<id>/diff. Nothing there is trusted: the manifest must hash to the
// image's digest, the config to the digest the manifest names, and each layer is rebuilt as the
// exact tar it was unpacked from (its tar-split gives every header byte, the diff tree the file
// contents) and unpacked by ocinit's own tar reader while that tar is hashed against the config's
// diff_id. The diff trees are never used as they are: their metadata (modes, owners, extra files)
// is not covered by any digest.
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, existsSync, fstatSync, lstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { OcinitError } from '../log/errors.ts';
import { parseReference } from '../reference/reference.ts';

interface StoreImage {
  id: string;
  digest: string | undefined;
  names: string[];
  layer: string | undefined;
}

interface StoreLayer {
  id: string;
  parent: string | undefined;
  diffDigest: string | undefined;
}

/** An image found in a store, its manifest and config already verified. */
export interface StoredImage {
  store: string;
  id: string;
  manifestDigest: string;
  /** The names the store gives it (`gateway.lan/ci/job:1`). */
  names: string[];
  manifest: Buffer;
  config: Buffer;
  /** Bottom first: the store's layer id and the diff_id it must rebuild to. */
  layers: { id: string; diffId: string }[];
}

const HEX64 = /^[0-9a-f]{64}$/;

function refuse(store: string, message: string, hint = 'fix or rebuild the store, or drop it from b2c.storage'): OcinitError {
  return new OcinitError(`image store ${store}: ${message}`, { parameter: 'b2c.storage', hint });
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function readJsonList(store: string, path: string): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw refuse(store, `cannot read ${path}: ${(error as Error).message}`, 'b2c.storage takes containers-storage overlay stores (overlay-images/images.json, overlay-layers/layers.json)');
  }
  if (!Array.isArray(parsed) || !parsed.every((item): item is Record<string, unknown> => typeof item === 'object' && item !== null)) throw refuse(store, `${path} is not a JSON list of objects`);
  return parsed;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** containers-storage names big-data files by their key, base64'd (with a leading =) when it has unsafe characters. */
function bigDataFile(root: string, imageId: string, key: string): string {
  const plain = join(root, 'overlay-images', imageId, key);
  return /^[A-Za-z0-9._-]+$/.test(key) && existsSync(plain) ? plain : join(root, 'overlay-images', imageId, `=${Buffer.from(key).toString('base64')}`);
}

export class ContainersStore {
  readonly name: string;
  readonly root: string;
  readonly #images: StoreImage[];
  readonly #layers: Map<string, StoreLayer>;

  /** Reads a store's indexes; refuses, naming the store, anything that is not an overlay store. */
  constructor(name: string, root: string) {
    this.name = name;
    this.root = root;
    this.#images = readJsonList(name, join(root, 'overlay-images', 'images.json')).map((item) => ({
      id: text(item['id']) ?? '',
      digest: text(item['digest']),
      names: Array.isArray(item['names']) ? item['names'].filter((entry): entry is string => typeof entry === 'string') : [],
      layer: text(item['layer']),
    }));
    const layers = readJsonList(name, join(root, 'overlay-layers', 'layers.json')).map((item) => ({ id: text(item['id']) ?? '', parent: text(item['parent']), diffDigest: text(item['diff-digest']) }));
    for (const entry of [...this.#images, ...layers]) if (!HEX64.test(entry.id)) throw refuse(name, `'${entry.id.slice(0, 80)}' is not an image or layer id`);
    this.#layers = new Map(layers.map((layer) => [layer.id, layer]));
  }

  /** The image named by `wanted` (a reference, or an image id of 12 to 64 hex digits), verified; undefined when absent. */
  find(wanted: string): StoredImage | undefined {
    const image = this.#match(wanted);
    return image === undefined ? undefined : this.#verify(image);
  }

  #match(wanted: string): StoreImage | undefined {
    const id = /^(?:sha256:)?([0-9a-f]{12,64})$/.exec(wanted)?.[1];
    if (id !== undefined) {
      const candidates = this.#images.filter((image) => image.id.startsWith(id));
      if (candidates.length > 1) throw refuse(this.name, `the image id ${id} is ambiguous (${candidates.length} images start with it)`, 'give more digits of the id');
      if (candidates.length === 1) return candidates[0];
    }
    let reference: ReturnType<typeof parseReference>;
    try {
      reference = parseReference(wanted);
    } catch {
      return undefined;
    }
    return this.#images.find((image) =>
      image.names.some((name) => {
        try {
          const stored = parseReference(name);
          if (reference.digest !== undefined) return stored.registry === reference.registry && stored.repository === reference.repository && image.digest === reference.digest;
          return stored.canonical === reference.canonical;
        } catch {
          return false;
        }
      }),
    );
  }

  #verify(image: StoreImage): StoredImage {
    const where = `image ${image.id.slice(0, 12)}`;
    if (image.digest === undefined) throw refuse(this.name, `${where} records no manifest digest`);
    const manifest = this.#bigData(image, `manifest-${image.digest}`);
    if (sha256(manifest) !== image.digest) throw refuse(this.name, `${where}: its manifest does not hash to ${image.digest}`);
    let manifestJson: { config?: { digest?: unknown } };
    try {
      manifestJson = JSON.parse(manifest.toString('utf8')) as typeof manifestJson;
    } catch {
      throw refuse(this.name, `${where}: its manifest is not JSON`);
    }
    const configDigest = text(manifestJson.config?.digest);
    if (configDigest !== `sha256:${image.id}`) throw refuse(this.name, `${where}: its manifest names config ${configDigest ?? '(none)'}, not the image id`);
    const config = this.#bigData(image, configDigest);
    if (sha256(config) !== configDigest) throw refuse(this.name, `${where}: its config does not hash to ${configDigest}`);
    const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || !diffIds.every((diffId): diffId is string => typeof diffId === 'string')) throw refuse(this.name, `${where}: its config has no rootfs.diff_ids`);
    const chain: StoreLayer[] = [];
    for (let id = image.layer; id !== undefined; ) {
      const layer = this.#layers.get(id);
      if (layer === undefined || chain.length > diffIds.length) throw refuse(this.name, `${where}: layer ${id.slice(0, 12)} is missing from layers.json`);
      chain.unshift(layer);
      id = layer.parent;
    }
    if (chain.length !== diffIds.length || chain.some((layer, index) => layer.diffDigest !== diffIds[index]))
      throw refuse(this.name, `${where}: its layers do not match the config's diff_ids`);
    return { store: this.name, id: image.id, manifestDigest: image.digest, names: image.names, manifest, config, layers: chain.map((layer, index) => ({ id: layer.id, diffId: diffIds[index] ?? '' })) };
  }

  #bigData(image: StoreImage, key: string): Buffer {
    const path = bigDataFile(this.root, image.id, key);
    try {
      return readFileSync(path);
    } catch (error) {
      throw refuse(this.name, `image ${image.id.slice(0, 12)}: cannot read ${key}: ${(error as Error).message}`);
    }
  }

  /** The layer's original tar, rebuilt from its tar-split and diff tree; the caller verifies its diff_id. */
  layerTar(layerId: string): Readable {
    const split = join(this.root, 'overlay-layers', `${layerId}.tar-split.gz`);
    if (!existsSync(split)) throw refuse(this.name, `layer ${layerId.slice(0, 12)} has no tar-split (${split}): its tar cannot be rebuilt to check its diff_id`);
    return Readable.from(rebuildTar(this.name, split, join(this.root, 'overlay', layerId, 'diff')));
  }
}

interface SplitEntry {
  type?: unknown;
  name?: unknown;
  name_raw?: unknown;
  size?: unknown;
  payload?: unknown;
}

const CHUNK = 1024 * 1024;

/** A file's bytes from the diff tree: every directory on the way a real one, the file a regular one of `size` bytes. */
function* fileBytes(store: string, diffDir: string, name: string, size: number): Generator<Buffer> {
  const components = name.split('/').filter((part) => part !== '' && part !== '.');
  if (components.length === 0 || components.includes('..')) throw refuse(store, `tar-split names an unsafe path '${name.slice(0, 200)}'`);
  let path = diffDir;
  for (const component of components.slice(0, -1)) {
    path = join(path, component);
    if (!lstatSync(path).isDirectory()) throw refuse(store, `${path} is not a directory in the diff tree`);
  }
  path = join(path, components.at(-1) ?? '');
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size !== size) throw refuse(store, `${path} is not the regular file of ${size} bytes its tar-split records`);
    for (let done = 0; done < size; ) {
      const buffer = Buffer.alloc(Math.min(CHUNK, size - done));
      const read = readSync(fd, buffer, 0, buffer.length, done);
      if (read === 0) throw refuse(store, `${path} ended early`);
      done += read;
      yield buffer.subarray(0, read);
    }
  } finally {
    closeSync(fd);
  }
}

async function* rebuildTar(store: string, splitPath: string, diffDir: string): AsyncGenerator<Buffer> {
  const lines = createInterface({ input: createReadStream(splitPath).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    let entry: SplitEntry;
    try {
      entry = JSON.parse(line) as SplitEntry;
    } catch {
      throw refuse(store, `${splitPath} holds a line that is not JSON`);
    }
    if (entry.type === 2) {
      // A segment: header and padding bytes, as they were.
      if (typeof entry.payload !== 'string') throw refuse(store, `${splitPath}: a segment without payload`);
      yield Buffer.from(entry.payload, 'base64');
    } else if (entry.type === 1) {
      if (entry.name_raw !== undefined) throw refuse(store, `${splitPath}: a file name that is not UTF-8 cannot be found in the diff tree safely`);
      const size = typeof entry.size === 'number' ? entry.size : 0;
      if (typeof entry.name !== 'string' || !Number.isSafeInteger(size) || size < 0) throw refuse(store, `${splitPath}: a malformed file entry`);
      if (size > 0) yield* fileBytes(store, diffDir, entry.name, size);
    } else {
      throw refuse(store, `${splitPath}: unknown entry type ${String(entry.type)}`);
    }
  }
}
