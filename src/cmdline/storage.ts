import { Secret } from '../log/secret.ts';
import type { CacheDevice, FilesystemSpec, HookCondition, MinioAlias, MirrorTarget, NbdSpec, SwapSpec, VolumeSpec } from './plan.ts';
import { isHostName, isHttpUrl, parseInteger, protectUrlCredentials, parseSize, splitNamedOptions, type ValueContext } from './values.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const HOOK_CONDITIONS: readonly HookCondition[] = ['pipeline_start', 'container_start', 'container_end', 'pipeline_end', 'changes'];
const VOLUME_OPTIONS =
  'filesystem=, mirror=, pull_from=, push_to=, pull_on=, push_on=, expiration=, overwrite, remove, exclude=, encrypt_key=, preserve, fscrypt_key=, fscrypt_reset_key';

function parseMirror(text: string): MirrorTarget | undefined {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9][A-Za-z0-9._-]*)(?:\/(.*))?$/.exec(text);
  if (match === null) return undefined;
  const [, alias = '', bucket = '', path = ''] = match;
  return { alias, bucket, path };
}

function parseConditions(text: string, option: string, context: ValueContext): HookCondition[] | undefined {
  const conditions: HookCondition[] = [];
  for (const word of text.split('|')) {
    const condition = HOOK_CONDITIONS.find((candidate) => candidate === word);
    if (condition === undefined) {
      context.problem(`${option}: unknown hook condition '${word}'`, `use ${HOOK_CONDITIONS.join(', ')}, separated by |`);
      return undefined;
    }
    if (!conditions.includes(condition)) conditions.push(condition);
  }
  if (conditions.includes('changes') && conditions.length > 1)
    context.warning(`${option}: with 'changes', the other conditions are ignored (as in boot2container)`);
  return conditions;
}

/** What the kernel takes as an fscrypt master key (FSCRYPT_MIN_KEY_SIZE .. FSCRYPT_MAX_KEY_SIZE). */
const FSCRYPT_KEY_BYTES = { min: 16, max: 64 };

function isBase64(text: string): boolean {
  return text.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0;
}

/** SSE-C keys are AES-256 keys. */
const SSE_C_KEY_BYTES = 32;

/**
 * `encrypt_key=` is what boot2container hands to `mcli mirror --encrypt-key`: `ALIAS/BUCKET[/PATH]=KEY`
 * (the objects under that prefix are encrypted with KEY, S3's SSE-C), KEY being 32 ASCII characters or
 * the base64 of 32 bytes. A bare KEY applies to the volume's own buckets. Returns the key bytes, or a
 * message; the prefix must cover every bucket the volume mirrors, since mcli would send the others
 * unencrypted.
 */
function sseKeyBytes(key: string): Buffer | undefined {
  if (isBase64(key) && Buffer.from(key, 'base64').length === SSE_C_KEY_BYTES) return Buffer.from(key, 'base64');
  if (key.length === SSE_C_KEY_BYTES && /^[\x21-\x7e]+$/.test(key)) return Buffer.from(key, 'latin1');
  return undefined;
}

function parseEncryptKey(text: string, targets: readonly MirrorTarget[]): Buffer | string {
  // A base64 key may hold '/' and ends with '=': it is a prefix only if what follows is a key too.
  const equals = text.indexOf('=');
  const prefix = equals > 0 ? parseMirror(text.slice(0, equals).replace(/\/+$/, '')) : undefined;
  const prefixedKey = prefix === undefined ? undefined : sseKeyBytes(text.slice(equals + 1));
  const bytes = prefixedKey ?? sseKeyBytes(text);
  if (bytes === undefined) return `encrypt_key= is not ${SSE_C_KEY_BYTES} ASCII characters or the base64 of ${SSE_C_KEY_BYTES} bytes (after an optional ALIAS/BUCKET[/PATH]=)`;
  if (targets.length === 0) return 'encrypt_key= needs a bucket: add mirror=, pull_from= or push_to=';
  if (prefix !== undefined && prefixedKey !== undefined) {
    const covered = describeMirrorTarget(prefix);
    const uncovered = targets.map(describeMirrorTarget).filter((where) => where !== covered && !where.startsWith(`${covered}/`));
    if (uncovered.length > 0) return `encrypt_key= is for ${covered}, not for ${uncovered.join(' and ')}`;
  }
  return bytes;
}

/** `ALIAS/BUCKET[/PATH]`, as messages name a mirror. */
export function describeMirrorTarget(target: MirrorTarget): string {
  return [target.alias, target.bucket, ...(target.path === '' ? [] : [target.path.replace(/^\/+|\/+$/g, '')])].join('/');
}

/** `NAME[,filesystem=FS][,mirror=ALIAS/BUCKET[/PATH]][,pull_on=C1|C2][,push_on=...][,expiration=...]...`. */
export function parseVolume(text: string, context: ValueContext): VolumeSpec | undefined {
  const { name, items } = splitNamedOptions(text);
  // Never echo the whole value: it may carry keys.
  if (!NAME.test(name)) {
    context.problem(`'${name}' is not a volume name`, 'start with the name (letters, digits, _ . -), e.g. b2c.volume=results,mirror=...');
    return undefined;
  }
  const volume: VolumeSpec = {
    name,
    filesystem: undefined,
    pullFrom: undefined,
    pushTo: undefined,
    pullOn: [],
    pushOn: [],
    expiration: 'never',
    overwrite: false,
    remove: false,
    exclude: [],
    encryptKey: undefined,
    preserve: false,
    fscryptKey: undefined,
    fscryptResetKey: false,
  };
  let valid = true;
  let encryptKey: Secret | undefined;
  const bad = (message: string, hint?: string): void => {
    valid = false;
    context.problem(`volume ${name}: ${message}`, hint);
  };
  const scoped: ValueContext = { ...context, problem: bad, warning: (m, h) => context.warning(`volume ${name}: ${m}`, h) };
  const mirror = (option: string, value: string): MirrorTarget | undefined => {
    const target = parseMirror(value);
    if (target === undefined) bad(`${option}=${value} is not ALIAS/BUCKET[/PATH]`, `e.g. ${option}=gateway/job-bucket`);
    return target;
  };

  for (const { key, value } of items) {
    const text = value ?? '';
    switch (key) {
      case 'filesystem':
        if (NAME.test(text)) volume.filesystem = text;
        else bad(`filesystem=${text} is not a b2c.filesystem name`);
        break;
      case 'mirror':
        volume.pullFrom = volume.pushTo = mirror(key, text);
        break;
      case 'pull_from':
        volume.pullFrom = mirror(key, text);
        break;
      case 'push_to':
        volume.pushTo = mirror(key, text);
        break;
      case 'pull_on':
        volume.pullOn = parseConditions(text, key, scoped) ?? [];
        break;
      case 'push_on':
        volume.pushOn = parseConditions(text, key, scoped) ?? [];
        break;
      case 'expiration':
        if (text === 'never' || text === 'pipeline_end') volume.expiration = text;
        else bad(`expiration=${text} is not never or pipeline_end`);
        break;
      case 'overwrite':
      case 'remove':
      case 'preserve':
      case 'fscrypt_reset_key':
        if (key === 'fscrypt_reset_key') volume.fscryptResetKey = true;
        else volume[key] = true;
        break;
      case 'exclude':
        if (text === '') bad('exclude= needs a pattern', 'e.g. exclude=*.tmp');
        else volume.exclude.push(text);
        break;
      case 'encrypt_key':
        // Registered as a secret before any message could quote it; checked once the buckets are known.
        encryptKey = new Secret(text);
        break;
      case 'fscrypt_key': {
        // Registered as a secret before any message could quote it.
        const key = new Secret(text);
        const bytes = isBase64(text) ? Buffer.from(text, 'base64').length : 0;
        if (bytes >= FSCRYPT_KEY_BYTES.min && bytes <= FSCRYPT_KEY_BYTES.max) volume.fscryptKey = key;
        else bad(`fscrypt_key= is not the base64 of ${FSCRYPT_KEY_BYTES.min} to ${FSCRYPT_KEY_BYTES.max} bytes`, 'e.g. fscrypt_key=$(head -c 64 /dev/urandom | base64 -w0)');
        break;
      }
      default:
        bad(`unknown option '${key}'`, `known options: ${VOLUME_OPTIONS}`);
    }
  }
  if (encryptKey !== undefined) {
    const targets = [volume.pullFrom, volume.pushTo].filter((target): target is MirrorTarget => target !== undefined);
    const key = parseEncryptKey(encryptKey.reveal(), targets);
    if (typeof key === 'string') bad(key, 'e.g. encrypt_key=gateway/job-bucket=$(head -c 32 /dev/urandom | base64 -w0), as mcli --encrypt-key takes it');
    else volume.encryptKey = new Secret(key.toString('base64'));
  }
  // Hooks with nowhere to transfer would be accepted and ignored: refused instead.
  if (volume.pullOn.length > 0 && volume.pullFrom === undefined) bad('pull_on= needs a bucket to pull from', 'add mirror=ALIAS/BUCKET or pull_from=ALIAS/BUCKET');
  if (volume.pushOn.length > 0 && volume.pushTo === undefined) bad('push_on= needs a bucket to push to', 'add mirror=ALIAS/BUCKET or push_to=ALIAS/BUCKET');
  if (volume.pullOn.includes('changes'))
    bad('pull_on=changes is not supported: S3 servers give no change feed to follow', 'pull at container_start (before each container) or pipeline_start instead');
  if ((volume.fscryptKey !== undefined || volume.fscryptResetKey) && volume.filesystem !== undefined)
    bad('fscrypt_key= encrypts volumes on the cache device, not on a b2c.filesystem', 'drop filesystem= or fscrypt_key=');
  return valid ? volume : undefined;
}

/** `NAME,src=SOURCE[,type=FSTYPE][,opts=O1|O2]`. */
export function parseFilesystem(text: string, context: ValueContext): FilesystemSpec | undefined {
  const { name, items } = splitNamedOptions(text);
  if (!NAME.test(name)) {
    context.problem(`'${name}' is not a filesystem name`, 'start with the name, e.g. b2c.filesystem=cache,src=/dev/sda2,type=ext4');
    return undefined;
  }
  const filesystem: FilesystemSpec = { name, source: '', type: undefined, options: [] };
  const unknown: string[] = [];
  for (const { key, value = '' } of items) {
    if (key === 'src') filesystem.source = value;
    else if (key === 'type') filesystem.type = value === '' ? undefined : value;
    else if (key === 'opts') filesystem.options = value.split('|').filter((option) => option !== '');
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    context.problem(`filesystem ${name}: unknown option(s) ${unknown.join(', ')}`, 'known options: src=, type=, opts= (mount options go in opts=O1|O2)');
    return undefined;
  }
  if (filesystem.source === '') {
    context.problem(`filesystem ${name}: src= is missing`, 'e.g. src=/dev/sda2, src=LABEL=data, or src=host:/export for NFS');
    return undefined;
  }
  return filesystem;
}

/** `ALIAS,URL,ACCESS_KEY,SECRET_KEY`. Messages never repeat the value: it holds keys. */
export function parseMinio(text: string, context: ValueContext): MinioAlias | undefined {
  const fields = text.split(',');
  const [alias = '', url = '', accessKey = '', secretKey = ''] = fields;
  // Register the keys before any message can quote them.
  const secrets = { accessKey: new Secret(accessKey), secretKey: new Secret(secretKey) };
  protectUrlCredentials(url);
  if (fields.length !== 4) {
    context.problem(`expected 4 comma-separated fields, found ${fields.length}`, 'b2c.minio=ALIAS,URL,ACCESS_KEY,SECRET_KEY (no commas inside)');
    return undefined;
  }
  if (!NAME.test(alias)) {
    context.problem(`'${alias}' is not an alias name`, 'e.g. b2c.minio=gateway,http://10.42.0.1:9000,KEY,SECRET');
    return undefined;
  }
  if (!isHttpUrl(url)) {
    context.problem(`alias ${alias}: the URL is not http:// or https://`, 'e.g. http://10.42.0.1:9000');
    return undefined;
  }
  return { alias, url, ...secrets };
}

/** `8g`, `8G,swappiness=60`, or a device `/dev/sda3`. */
export function parseSwap(text: string, context: ValueContext): SwapSpec | undefined {
  if (text.startsWith('/dev/')) return { device: text };
  const [sizeText = '', ...rest] = text.split(',');
  const size = parseSize(sizeText);
  if (size === undefined || size === 0) {
    context.problem(`'${sizeText}' is not a size or a /dev/ device`, 'e.g. b2c.swap=8g or b2c.swap=8G,swappiness=60');
    return undefined;
  }
  const swap: { size: number; swappiness?: number } = { size };
  for (const option of rest) {
    const swappiness = /^swappiness=(\d+)$/.exec(option)?.[1];
    const value = swappiness === undefined ? undefined : parseInteger(swappiness, 0, 200);
    if (value === undefined) {
      context.problem(`'${option}' is not swappiness=0..200`);
      return undefined;
    }
    swap.swappiness = value;
  }
  return swap;
}

/** `none`, `auto`, `reset`, `/dev/X`, or a b2c.filesystem name (checked once all filesystems are known). */
export function parseCacheDevice(text: string, context: ValueContext): CacheDevice | undefined {
  if (text === 'none' || text === 'auto' || text === 'reset') return { kind: text };
  if (text.startsWith('/dev/') && text.length > 5) return { kind: 'device', path: text };
  if (NAME.test(text)) return { kind: 'filesystem', name: text };
  context.problem(`'${text}' is not none, auto, reset, a /dev/ path or a b2c.filesystem name`);
  return undefined;
}

/** `DEVICE,host=HOST[,port=PORT][,connections=N]`. */
export function parseNbd(text: string, context: ValueContext): NbdSpec | undefined {
  const { name, items } = splitNamedOptions(text);
  const device = name.startsWith('/dev/') ? name : `/dev/${name}`;
  if (!/^\/dev\/nbd\d+$/.test(device)) {
    context.problem(`'${name}' is not an nbd device`, 'e.g. b2c.nbd=/dev/nbd0,host=10.42.0.1,port=10809');
    return undefined;
  }
  const nbd: NbdSpec = { device, host: '', port: undefined, connections: undefined };
  const unknown: string[] = [];
  for (const { key, value = '' } of items) {
    if (key === 'host') nbd.host = value;
    else if (key === 'port') nbd.port = parseInteger(value, 1, 65535) ?? Number.NaN;
    else if (key === 'connections') nbd.connections = parseInteger(value, 1, 64) ?? Number.NaN;
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    context.problem(`nbd ${device}: unknown option(s) ${unknown.join(', ')}`, 'known options: host=, port=, connections=');
    return undefined;
  }
  if (!isHostName(nbd.host) || Number.isNaN(nbd.port) || Number.isNaN(nbd.connections)) {
    context.problem(`nbd ${device}: needs host=HOST, and port=1..65535 and connections=1..64 when given`);
    return undefined;
  }
  return nbd;
}

/** `additionalimagestores=FS1|FS2`: read-only image stores on b2c.filesystem mounts. */
export function parseStorage(text: string, context: ValueContext): string[] | undefined {
  const match = /^additionalimagestores=(.+)$/.exec(text);
  const names = match?.[1]?.split('|') ?? [];
  if (names.length === 0 || !names.every((name) => NAME.test(name))) {
    context.problem(`'${text}' is not additionalimagestores=FS[|FS...]`, 'name b2c.filesystem entries, e.g. b2c.storage=additionalimagestores=images');
    return undefined;
  }
  return names;
}
