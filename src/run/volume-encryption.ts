// fscrypt_key / fscrypt_reset_key: a v2 policy on the volume's directory on the cache, with
// boot2container's rules: a directory that cannot take the policy is emptied and retried only when
// it was not encrypted yet or fscrypt_reset_key is set; an encrypted volume without its key is an error.
import { mkdirSync, rmSync } from 'node:fs';
import type { VolumeSpec } from '../cmdline/plan.ts';
import { OcinitError } from '../log/errors.ts';
import type { Logger } from '../log/logger.ts';
import { addFscryptKey, getFscryptPolicy, setFscryptPolicy, type FscryptPolicy } from '../system/fscrypt.ts';

/** What encryption needs to know of a volume. */
export type EncryptedVolume = Pick<VolumeSpec, 'name' | 'fscryptKey' | 'fscryptResetKey'>;

export type EncryptionStep =
  | { action: 'none' }
  | { action: 'keep' }
  | { action: 'set' }
  | { action: 'recreate'; reason: string }
  | { action: 'refuse'; message: string; hint: string };

/** What to do with a volume's directory, from what it holds now (`policy`) and what the line asks. */
export function planEncryption(volume: Pick<VolumeSpec, 'name' | 'fscryptResetKey'>, policy: FscryptPolicy, keyId: string | undefined): EncryptionStep {
  const encrypted = policy.kind === 'v1' || policy.kind === 'v2';
  if (keyId === undefined) {
    if (!encrypted) return { action: 'none' };
    return { action: 'refuse', message: `volume ${volume.name} is encrypted (fscrypt) and the command line gives no key for it`, hint: `add fscrypt_key=... to b2c.volume=${volume.name}` };
  }
  if (policy.kind === 'unsupported') {
    return { action: 'refuse', message: `volume ${volume.name}: the cache file system cannot encrypt (no ext4 encrypt feature)`, hint: 'b2c.cache_device=reset reformats the cache with it (erasing it)' };
  }
  if (policy.kind === 'v2' && policy.keyId === keyId) return { action: 'keep' };
  if (policy.kind === 'none') return { action: 'set' };
  if (volume.fscryptResetKey) return { action: 'recreate', reason: 'it is encrypted with another key and fscrypt_reset_key is set' };
  return {
    action: 'refuse',
    message: `volume ${volume.name} is encrypted with another key${policy.kind === 'v2' ? ` (${policy.keyId})` : ' (a v1 policy)'} than its fscrypt_key`,
    hint: `give the key it was made with, or add fscrypt_reset_key to erase it and start empty`,
  };
}

function refuse(step: { message: string; hint: string }): never {
  throw new OcinitError(step.message, { parameter: 'b2c.volume', hint: step.hint });
}

function recreate(path: string, volume: EncryptedVolume, reason: string, log: Logger): void {
  log.warn(`Volume ${volume.name}: ERASING its content: ${reason}`);
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path);
}

/**
 * Applies the volume's encryption to its directory `path` on the cache, `keyRoot` being any
 * directory on that file system (where the key is added).
 */
export async function protectVolume(volume: EncryptedVolume, path: string, keyRoot: string, log: Logger): Promise<void> {
  const key = volume.fscryptKey === undefined ? undefined : Buffer.from(volume.fscryptKey.reveal(), 'base64');
  const keyId = key === undefined ? undefined : await addFscryptKey(keyRoot, key, log);
  const step = planEncryption(volume, await getFscryptPolicy(path, log), keyId);
  if (step.action === 'refuse') refuse(step);
  if (step.action === 'none' || keyId === undefined) return;
  if (step.action === 'keep') {
    log.info(`Volume ${volume.name}: encrypted with key ${keyId}, unlocked`);
    return;
  }
  if (step.action === 'recreate') recreate(path, volume, step.reason, log);
  if ((await setFscryptPolicy(keyId, path, log)) === 'conflict') {
    // Not encrypted yet (planEncryption said 'set'), but not empty: b2c empties it and retries.
    recreate(path, volume, 'it holds unencrypted files and fscrypt_key asks for an encrypted volume', log);
    if ((await setFscryptPolicy(keyId, path, log)) === 'conflict') refuse({ message: `volume ${volume.name}: cannot set its fscrypt policy even once emptied`, hint: 'check the cache file system' });
  }
  log.info(`Volume ${volume.name}: encrypted with key ${keyId}`);
}
