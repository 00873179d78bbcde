import { describe, expect, it } from 'vitest';
import { planEncryption } from '../../../src/run/volume-encryption.ts';

const KEY = '0123456789abcdef0123456789abcdef';
const OTHER = 'ffffffffffffffffffffffffffffffff';
const volume = (fscryptResetKey = false) => ({ name: 'secrets', fscryptResetKey });

describe("fscrypt volumes: boot2container's rules", () => {
  it('a volume without a key stays as it is unless it is encrypted, which is an error naming it', () => {
    expect(planEncryption(volume(), { kind: 'none' }, undefined)).toEqual({ action: 'none' });
    expect(planEncryption(volume(), { kind: 'unsupported' }, undefined)).toEqual({ action: 'none' });
    for (const policy of [{ kind: 'v2', keyId: KEY } as const, { kind: 'v1' } as const]) {
      expect(planEncryption(volume(), policy, undefined)).toEqual({
        action: 'refuse',
        message: 'volume secrets is encrypted (fscrypt) and the command line gives no key for it',
        hint: 'add fscrypt_key=... to b2c.volume=secrets',
      });
    }
  });

  it('with its key: unlocked when it has the policy, encrypted when it had none', () => {
    expect(planEncryption(volume(), { kind: 'v2', keyId: KEY }, KEY)).toEqual({ action: 'keep' });
    expect(planEncryption(volume(), { kind: 'none' }, KEY)).toEqual({ action: 'set' });
  });

  it('encrypted with another key: erased only with fscrypt_reset_key, else refused', () => {
    expect(planEncryption(volume(), { kind: 'v2', keyId: OTHER }, KEY)).toMatchObject({
      action: 'refuse',
      message: `volume secrets is encrypted with another key (${OTHER}) than its fscrypt_key`,
    });
    expect(planEncryption(volume(true), { kind: 'v2', keyId: OTHER }, KEY)).toEqual({ action: 'recreate', reason: 'it is encrypted with another key and fscrypt_reset_key is set' });
    expect(planEncryption(volume(true), { kind: 'v1' }, KEY)).toMatchObject({ action: 'recreate' });
  });

  it('a cache without the ext4 encrypt feature is refused with the way out', () => {
    expect(planEncryption(volume(), { kind: 'unsupported' }, KEY)).toMatchObject({ action: 'refuse', hint: 'b2c.cache_device=reset reformats the cache with it (erasing it)' });
  });
});
