import { describe, expect, it } from 'vitest';
import { hasCode, OcinitError } from '../../../src/log/errors.ts';
import { TarFormatError } from '../../../src/oci/tar.ts';
import { RegistryError, RegistryUnreachableError } from '../../../src/oci/transport/errors.ts';
import { UnpackingStoppedError } from '../../../src/oci/unpack.ts';
import { PolicyError } from '../../../src/policy/document.ts';
import { ImageRefusedError } from '../../../src/policy/verifier.ts';
import { S3Error } from '../../../src/s3/client.ts';
import { TpmError } from '../../../src/tpm/commands.ts';
import { DigestMismatchError } from '../../../src/digest/mismatch.ts';
import { StoreError } from '../../../src/store/index.ts';

describe('error codes', () => {
  it('gives every ocinit error class its own stable code', () => {
    const s3 = new S3Error('m', { alias: 'a', bucket: 'b', code: 'NoSuchBucket', url: 'https://s3', hint: 'h' });
    const errors = [
      new OcinitError('m'),
      new RegistryError('m'),
      new RegistryUnreachableError('m'),
      new DigestMismatchError('m'),
      new StoreError('m'),
      new TarFormatError('m'),
      new UnpackingStoppedError('m'),
      new PolicyError('policy.json', 'default', 'm'),
      new ImageRefusedError('m'),
      new TpmError('m', 0x18b),
      s3,
    ];
    expect(errors.map((error) => error.code)).toEqual([
      'OCINIT_ERROR',
      'OCINIT_REGISTRY',
      'OCINIT_REGISTRY_UNREACHABLE',
      'OCINIT_DIGEST_MISMATCH',
      'OCINIT_STORE',
      'OCINIT_TAR_FORMAT',
      'OCINIT_UNPACK_STOPPED',
      'OCINIT_POLICY',
      'OCINIT_IMAGE_REFUSED',
      'OCINIT_TPM',
      'OCINIT_S3',
    ]);
    // The server's own code is a field of its own, as a registry's are.
    expect(s3.serverCode).toBe('NoSuchBucket');
  });

  it('finds an errno code through the cause chain, never in the message', () => {
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const wrapped = new OcinitError('unpacking layer failed', { cause: new StoreError('cannot write blob', { cause: enospc }) });
    expect(hasCode(wrapped, 'ENOSPC')).toBe(true);
    expect(hasCode(wrapped, 'OCINIT_STORE')).toBe(true);
    expect(hasCode(new OcinitError('ENOSPC: no space left on device'), 'ENOSPC')).toBe(false);
    expect(hasCode(new Error('x', { cause: 'ENOSPC' }), 'ENOSPC')).toBe(false);
    expect(hasCode(undefined, 'ENOSPC')).toBe(false);
    const loop: Error & { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    expect(hasCode(loop, 'ENOSPC')).toBe(false);
  });
});
