import { describe, expect, it } from 'vitest';
import { invalid, valid } from './helpers.ts';

const MINIO = 'b2c.minio="gateway,http://10.42.0.1:9000,ACCESSKEY01,SECRETKEY01"';

describe('b2c.volume', () => {
  it('reads a bare name with the defaults: a local volume kept forever, never mirrored', () => {
    const [volume] = valid('b2c.volume="tmp"').plan.volumes;
    expect([volume?.name, volume?.expiration, volume?.filesystem, volume?.pullFrom, volume?.pushTo]).toEqual(['tmp', 'never', undefined, undefined, undefined]);
    expect([volume?.pullOn, volume?.pushOn, volume?.exclude]).toEqual([[], [], []]);
    expect([volume?.overwrite, volume?.remove, volume?.preserve, volume?.fscryptResetKey, volume?.encryptKey, volume?.fscryptKey]).toEqual([
      false, false, false, false, undefined, undefined,
    ]);
  });

  it('reads every sub-option', () => {
    const fscrypt = Buffer.alloc(64, 7).toString('base64');
    const { plan } = valid(
      `${MINIO} b2c.volume="job-results,mirror=gateway/job-bucket/sub/dir,pull_on=pipeline_start|container_start,push_on=container_end|pipeline_end,expiration=pipeline_end,overwrite,remove,exclude=*.tmp,exclude=cache/*,encrypt_key=gateway/job-bucket=abcdefgh-abcdefgh-abcdefgh-abcde,preserve,fscrypt_key=${fscrypt},fscrypt_reset_key"`,
    );
    const [volume] = plan.volumes;
    expect(volume).toMatchObject({
      name: 'job-results',
      filesystem: undefined,
      pullFrom: { alias: 'gateway', bucket: 'job-bucket', path: 'sub/dir' },
      pushTo: { alias: 'gateway', bucket: 'job-bucket', path: 'sub/dir' },
      pullOn: ['pipeline_start', 'container_start'],
      pushOn: ['container_end', 'pipeline_end'],
      expiration: 'pipeline_end',
      overwrite: true,
      remove: true,
      exclude: ['*.tmp', 'cache/*'],
      preserve: true,
      fscryptResetKey: true,
    });
    expect(volume?.encryptKey?.reveal()).toBe(Buffer.from('abcdefgh-abcdefgh-abcdefgh-abcde').toString('base64'));
    expect(volume?.fscryptKey?.reveal()).toBe(fscrypt);
  });

  it("reads encrypt_key= as mcli's --encrypt-key: [ALIAS/BUCKET[/PATH]=]KEY, KEY 32 ASCII characters or the base64 of 32 bytes", () => {
    // A base64 key can hold '/' and ends with '=': it is not mistaken for a prefix.
    const key = Buffer.alloc(32, 0xff).toString('base64');
    expect(key).toContain('/');
    const bare = valid(`${MINIO} b2c.volume=v,mirror=gateway/jobs,push_on=pipeline_end,encrypt_key=${key}`).plan.volumes[0];
    expect(bare?.encryptKey?.reveal()).toBe(key);
    const prefixed = valid(`${MINIO} b2c.volume=v,pull_from=gateway/jobs/in,push_to=gateway/jobs/out,pull_on=pipeline_start,push_on=pipeline_end,encrypt_key=gateway/jobs/=${key}`).plan.volumes[0];
    expect(prefixed?.encryptKey?.reveal()).toBe(key);
  });

  it('refuses an encrypt_key= that mcli would not apply to all of the volume, or that is no AES-256 key', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(invalid(`${MINIO} b2c.volume=v,pull_from=gateway/in,push_to=gateway/out,pull_on=pipeline_start,push_on=pipeline_end,encrypt_key=gateway/in=${key}`)).toContainEqual(
      expect.objectContaining({ message: 'volume v: encrypt_key= is for gateway/in, not for gateway/out' }),
    );
    expect(invalid(`${MINIO} b2c.volume=v,mirror=gateway/jobs,push_on=pipeline_end,encrypt_key=short`)).toContainEqual(
      expect.objectContaining({ message: expect.stringContaining('volume v: encrypt_key= is not 32 ASCII characters or the base64 of 32 bytes') }),
    );
    expect(invalid(`b2c.volume=v,encrypt_key=${key}`)).toContainEqual(expect.objectContaining({ message: 'volume v: encrypt_key= needs a bucket: add mirror=, pull_from= or push_to=' }));
  });

  it('reads pull_from and push_to separately', () => {
    const { plan } = valid(`${MINIO} b2c.volume=v,pull_from=gateway/in,push_to=gateway/out,pull_on=pipeline_start,push_on=pipeline_end`);
    expect(plan.volumes[0]).toMatchObject({ pullFrom: { bucket: 'in', path: '' }, pushTo: { bucket: 'out', path: '' } });
  });

  it("warns that 'changes' overrides the other conditions, as in boot2container", () => {
    const result = valid(`${MINIO} b2c.volume=v,mirror=gateway/b,push_on=changes|pipeline_end`);
    expect(result.plan.volumes[0]?.pushOn).toEqual(['changes', 'pipeline_end']);
    expect(result.warnings[0]?.message).toMatch(/with 'changes', the other conditions are ignored/);
  });

  it('refuses unknown hook conditions, bad expirations, mirrors and keys', () => {
    const messages = invalid(`${MINIO} b2c.volume=v,mirror=gateway,pull_on=boot,expiration=tomorrow,fscrypt_key=not*base64`).map((p) => p.message);
    expect(messages).toEqual([
      'volume v: mirror=gateway is not ALIAS/BUCKET[/PATH]',
      "volume v: pull_on: unknown hook condition 'boot'",
      'volume v: expiration=tomorrow is not never or pipeline_end',
      'volume v: fscrypt_key= is not the base64 of 16 to 64 bytes',
    ]);
    expect(invalid(`b2c.volume=v,fscrypt_key=${Buffer.alloc(8).toString('base64')}`).map((p) => p.message)).toEqual(['volume v: fscrypt_key= is not the base64 of 16 to 64 bytes']);
    expect(invalid(`b2c.filesystem=data,src=/dev/sda2 b2c.volume=v,filesystem=data,fscrypt_key=${Buffer.alloc(64).toString('base64')}`).map((p) => p.message)).toEqual([
      'volume v: fscrypt_key= encrypts volumes on the cache device, not on a b2c.filesystem',
    ]);
  });

  it('refuses mirrors to undefined aliases and undefined filesystems', () => {
    const messages = invalid('b2c.volume=v,mirror=nowhere/b,filesystem=nofs').map((p) => p.message);
    expect(messages).toEqual(["volume v: no b2c.filesystem named 'nofs' is defined", "volume v: no b2c.minio alias named 'nowhere' is defined"]);
  });

  it('refuses unknown options rather than ignoring them (volume, filesystem, nbd)', () => {
    expect(invalid('b2c.volume=v,expiraton=pipeline_end').map((problem) => problem.message)).toEqual(["volume v: unknown option 'expiraton'"]);
    expect(invalid('b2c.filesystem=f,src=/dev/sda1,options=ro').map((problem) => problem.message)).toEqual(['filesystem f: unknown option(s) options']);
    expect(invalid('b2c.nbd=nbd0,host=h,timeout=5').map((problem) => problem.message)).toEqual(['nbd /dev/nbd0: unknown option(s) timeout']);
  });

  it('refuses hooks with nowhere to transfer, and pull_on=changes', () => {
    expect(invalid(`${MINIO} b2c.volume=v,pull_on=pipeline_start`).map((p) => p.message)).toEqual(['volume v: pull_on= needs a bucket to pull from']);
    expect(invalid(`${MINIO} b2c.volume=v,pull_from=gateway/in,push_on=pipeline_end`).map((p) => p.message)).toEqual(['volume v: push_on= needs a bucket to push to']);
    expect(invalid(`${MINIO} b2c.volume=v,mirror=gateway/b,pull_on=changes`).map((p) => p.message)).toEqual(['volume v: pull_on=changes is not supported: S3 servers give no change feed to follow']);
  });
});

describe('b2c.filesystem', () => {
  it('reads name, source, type and options', () => {
    const { plan } = valid('b2c.filesystem=shared,src=10.42.0.1:/srv/shared,type=nfs,opts=ro|nolock|vers=4 b2c.filesystem=local,src=LABEL=data');
    expect(plan.filesystems).toEqual([
      { name: 'shared', source: '10.42.0.1:/srv/shared', type: 'nfs', options: ['ro', 'nolock', 'vers=4'] },
      { name: 'local', source: 'LABEL=data', type: undefined, options: [] },
    ]);
  });

  it('needs src=', () => {
    expect(invalid('b2c.filesystem=x,type=ext4')[0]?.message).toBe('filesystem x: src= is missing');
  });
});

describe('b2c.minio', () => {
  it('reads alias, URL and keys as secrets', () => {
    const { plan } = valid(MINIO);
    expect(plan.minio[0]?.alias).toBe('gateway');
    expect(plan.minio[0]?.url).toBe('http://10.42.0.1:9000');
    expect(plan.minio[0]?.accessKey.reveal()).toBe('ACCESSKEY01');
    expect(plan.minio[0]?.secretKey.reveal()).toBe('SECRETKEY01');
  });

  it('refuses the wrong number of fields without repeating the keys', () => {
    const [problem] = invalid('b2c.minio=gateway,http://x:9000,ONLYONEKEY99');
    expect(problem?.message).toBe('expected 4 comma-separated fields, found 3');
    expect(JSON.stringify(problem)).not.toContain('ONLYONEKEY99');
    expect(invalid('b2c.minio=gateway,ftp://x,A,B')[0]?.message).toMatch(/not http/);
  });
});

describe('b2c.nbd', () => {
  it('reads the device and its connection settings', () => {
    expect(valid('b2c.nbd=/dev/nbd0,host=ci-gateway,port=10809,connections=5 b2c.nbd=nbd1,host=10.0.0.1').plan.nbd).toEqual([
      { device: '/dev/nbd0', host: 'ci-gateway', port: 10809, connections: 5 },
      { device: '/dev/nbd1', host: '10.0.0.1', port: undefined, connections: undefined },
    ]);
  });

  it('needs a host and sane numbers', () => {
    expect(invalid('b2c.nbd=/dev/nbd0,port=10809')[0]?.message).toMatch(/needs host=HOST/);
    expect(invalid('b2c.nbd=/dev/nbd0,host=x,port=70000')[0]?.message).toMatch(/port=1..65535/);
    expect(invalid('b2c.nbd=/dev/sda,host=x')[0]?.message).toMatch(/not an nbd device/);
  });
});

describe('container volumes against b2c.volume', () => {
  it('warns when a container mounts a near-miss of a declared volume', () => {
    const result = valid(`${MINIO} b2c.volume=job-results,mirror=gateway/b,push_on=changes b2c.container="-v job-reslts:/results alpine"`);
    expect(result.warnings).toEqual([
      {
        parameter: 'b2c.container',
        position: 2,
        message: "b2c.container #1: volume 'job-reslts' is not declared, but b2c.volume 'job-results' is: it would start empty and not be mirrored",
        hint: 'did you mean -v job-results:/results?',
      },
    ]);
  });

  it('stays quiet for declared volumes and for unrelated local ones', () => {
    expect(valid(`${MINIO} b2c.volume=job-results b2c.container="-v job-results:/r -v 1234-scratch:/s alpine"`).warnings).toEqual([]);
  });
});
