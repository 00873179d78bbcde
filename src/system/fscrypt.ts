// fscrypt v2 on the cache file system, through initrd/ocinit-fscrypt.c (Node has no ioctl). Its
// commands and defaults are fscryptctl's, so boot2container's encrypted volumes open here too.
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { runCommand } from './exec.ts';

export const FSCRYPT_HELPER = '/usr/sbin/ocinit-fscrypt';

export type FscryptPolicy = { kind: 'none' } | { kind: 'v1' } | { kind: 'v2'; keyId: string } | { kind: 'unsupported' };

/** The helper's exit statuses (see initrd/ocinit-fscrypt.c). */
const EXIT_POLICY_CONFLICT = 2;
const EXIT_UNSUPPORTED = 3;

const NO_ENCRYPTION_HINT = 'the cache file system lacks the ext4 encrypt feature: b2c.cache_device=reset reformats it with it (erasing it)';

function failure(what: string, stderr: string, code: number): OcinitError {
  return new OcinitError(`${what} failed: ${stderr.trim() || `exit ${code}`}`, code === EXIT_UNSUPPORTED ? { hint: NO_ENCRYPTION_HINT } : {});
}

/** The ciphers of ocinit's policies, when modules (Debian's kernel): the kernel may not load them itself. */
const CIPHER_MODULES = ['sha512_generic', 'xts', 'cts', 'ecb'];
let ciphersLoaded: Promise<unknown> | undefined;

/** Adds a master key to the file system holding `path`; returns its identifier (32 hex digits). */
export async function addFscryptKey(path: string, key: Buffer, log: Logger): Promise<string> {
  // A kernel with them built in has no such modules: modprobe then fails quietly, which is fine.
  ciphersLoaded ??= runCommand(['modprobe', '-a', '-q', ...CIPHER_MODULES], { log }).catch(() => undefined);
  await ciphersLoaded;
  // The key goes through stdin only: never on a command line or in the log.
  const result = await runCommand([FSCRYPT_HELPER, 'add_key', path], { log, input: key });
  const keyId = result.stdout.trim();
  if (result.code !== 0 || !/^[0-9a-f]{32}$/.test(keyId)) throw failure(`adding an fscrypt key on ${path}`, result.stderr, result.code);
  return keyId;
}

/** Sets a v2 policy on `dir`; 'conflict' when the directory is not empty or has another policy. */
export async function setFscryptPolicy(keyId: string, dir: string, log: Logger): Promise<'set' | 'conflict'> {
  const result = await runCommand([FSCRYPT_HELPER, 'set_policy', keyId, dir], { log });
  if (result.code === 0) return 'set';
  if (result.code === EXIT_POLICY_CONFLICT) return 'conflict';
  throw failure(`setting the fscrypt policy of ${dir}`, result.stderr, result.code);
}

export async function getFscryptPolicy(dir: string, log: Logger): Promise<FscryptPolicy> {
  const result = await runCommand([FSCRYPT_HELPER, 'get_policy', dir], { log });
  if (result.code === EXIT_UNSUPPORTED) return { kind: 'unsupported' };
  const text = result.stdout.trim();
  if (result.code === 0 && text === 'none') return { kind: 'none' };
  if (result.code === 0 && text === 'v1') return { kind: 'v1' };
  const keyId = /^v2 ([0-9a-f]{32})$/.exec(text)?.[1];
  if (result.code === 0 && keyId !== undefined) return { kind: 'v2', keyId };
  throw failure(`reading the fscrypt policy of ${dir}`, result.stderr, result.code);
}
