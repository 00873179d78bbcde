/**
 * Real command lines from public farm configurations. Template placeholders ({{ ... }}, ${...})
 * are rendered with plausible values; everything else is kept byte for byte, odd spacing included.
 */
import { describe, expect, it } from 'vitest';
import { mergeExtraArgs } from '../../../src/cmdline/index.ts';
import { ALL_FEATURES, valid } from './helpers.ts';

const MACHINE = 'SALAD.machine_id=b4:2e:99:f0:76:c5 console=ttyS0,115200';

describe('valve-infra job templates', () => {
  it('registers a machine (valve-infra job_templates/register.yml.j2; mirror andrewrothstein/valve-infra)', () => {
    const { plan, warnings } = valid(
      'b2c.container="-ti --tls-verify=false docker://10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest register" b2c.ntp_peer="10.42.0.1" b2c.cache_device=none loglevel=6',
    );
    expect(warnings).toEqual([]);
    expect(plan.containers).toHaveLength(1);
    expect(plan.containers[0]).toMatchObject({
      image: '10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest',
      command: ['register'],
      tty: true,
      interactive: true,
      tlsVerify: false,
    });
    expect(plan.ntpPeer).toEqual({ kind: 'host', host: '10.42.0.1' });
    expect(plan.cacheDevice).toEqual({ kind: 'none' });
  });

  it('boot-loops a machine (valve-infra job_templates/bootloop.yml.j2)', () => {
    const { plan } = valid(
      `b2c.container="-ti --tls-verify=false docker://10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest check" b2c.ntp_peer="10.42.0.1" b2c.pipefail b2c.cache_device=auto b2c.poweroff_delay=15 console=ttyS0,115200 earlyprintk=vga,keep SALAD.machine_id=b4:2e:99:f0:76:c5 loglevel=6`,
    );
    expect(plan.containers.map((spec) => [spec.image, spec.command])).toEqual([['10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest', ['check']]]);
    expect(plan.pipefail).toBe(true);
    expect(plan.cacheDevice).toEqual({ kind: 'auto' });
    expect(plan.shutdown.poweroffDelaySeconds).toBe(15);
  });

  it('opens an interactive shell with a mirrored job volume (valve-infra job_templates/interactive.yml.j2)', () => {
    const { plan } = valid(
      'b2c.minio="gateway,http://10.42.0.1:9000,job-access-1234,job-secret-5678" b2c.volume="job,mirror=gateway/job-bucket-42,pull_on=pipeline_start,push_on=pipeline_end,overwrite" ' +
        'b2c.container="-ti --tls-verify=false -v job:/job_share/ --entrypoint=bash docker://10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest" ' +
        'console=ttyS0,115200 SALAD.machine_id=b4:2e:99:f0:76:c5 b2c.ntp_peer="10.42.0.1" b2c.cache_device=none b2c.poweroff_delay=15 loglevel=6',
    );
    expect(plan.volumes[0]).toMatchObject({
      name: 'job',
      pullFrom: { alias: 'gateway', bucket: 'job-bucket-42', path: '' },
      pullOn: ['pipeline_start'],
      pushOn: ['pipeline_end'],
      overwrite: true,
    });
    expect(plan.containers[0]).toMatchObject({ entrypoint: ['bash'], command: [] });
    expect(plan.containers[0]?.volumes).toEqual([{ source: 'job', kind: 'named', destination: '/job_share/', options: [], readOnly: false }]);
  });

  it("parses the executor's sample job (valve-infra executor/server/.../tests/test_job.py)", () => {
    const { plan, warnings } = valid(
      'b2c.container="docker://10.42.0.1:8001/infra/machine-registration:latest check" b2c.ntp_peer="10.42.0.1" b2c.pipefail b2c.cache_device=auto b2c.container="-v /container/tmp:/storage docker://10.42.0.1:8002/tests/mesa:12345" console=ttyS0,115200 earlyprintk=vga,keep SALAD.machine_id=b4:2e:99:f0:76:c5 extra=""',
    );
    expect(warnings).toEqual([]);
    expect(plan.containers.map((spec) => spec.image)).toEqual(['10.42.0.1:8001/infra/machine-registration:latest', '10.42.0.1:8002/tests/mesa:12345']);
    expect(plan.containers[1]?.volumes[0]).toMatchObject({ kind: 'bind', source: '/container/tmp', destination: '/storage' });
  });

  it('runs valvetraces with an fscrypt-encrypted trace volume (valve-infra README, valvetraces job)', () => {
    const fscryptKey = Buffer.alloc(64, 3).toString('base64');
    const { plan } = valid(
      `${MACHINE} earlyprintk=vga,keep loglevel=6 b2c.ntp_peer=10.42.0.1 b2c.pipefail b2c.cache_device=auto b2c.poweroff_delay=15 ` +
        'b2c.minio="gateway,http://10.42.0.1:9000,job-access-1234,job-secret-5678" ' +
        'b2c.volume="job-bucket-42-job,mirror=gateway/job-bucket-42,pull_on=pipeline_start,push_on=changes,overwrite,preserve,remove,expiration=pipeline_end" ' +
        `b2c.volume=valvetraces,mirror=gateway/valvetraces,pull_on=pipeline_start,overwrite,preserve,remove,fscrypt_key=${fscryptKey} ` +
        'b2c.container="-ti --tls-verify=false docker://10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest check" ' +
        'b2c.container="-v job-bucket-42-job:/job -w /job -v valvetraces:/traces --tls-verify=false -w /job docker://10.42.0.1:8002/valve/dxvk-traces:latest  /entrypoint-dxvk"',
    );
    expect(plan.volumes.map((volume) => [volume.name, volume.expiration, volume.pushOn])).toEqual([
      ['job-bucket-42-job', 'pipeline_end', ['changes']],
      ['valvetraces', 'never', []],
    ]);
    expect(plan.volumes[1]?.fscryptKey?.reveal()).toBe(fscryptKey);
    expect(plan.containers[1]).toMatchObject({ workdir: '/job', image: '10.42.0.1:8002/valve/dxvk-traces:latest', command: ['/entrypoint-dxvk'] });
    expect(plan.containers[1]?.volumes.map((volume) => volume.destination)).toEqual(['/job', '/traces']);
  });

  it('reaps artifacts in a post container (valve-infra GitLab job script, artifact-reaper)', () => {
    const { plan } = valid(
      'b2c.container="-ti --tls-verify=false docker://10.42.0.1:8002/mupuf/valve-infra/machine_registration:latest check" ' +
        'b2c.ntp_peer="10.42.0.1" b2c.pipefail b2c.cache_device=auto b2c.poweroff_delay=15 ' +
        'b2c.container="-v 1234567-results:/builds/mesa/mesa/results --tls-verify=false docker://10.42.0.1:8004/mesa/mesa:test-1234567" ' +
        'b2c.post_container="-v 1234567-results:/results -e CI_JOB_ID=1234567 --tls-verify=false docker://10.42.0.1:8002/mupuf/valve-infra/artifact-reaper:latest" ' +
        'console=ttyS0,115200 earlyprintk=vga,keep SALAD.machine_id=b4:2e:99:f0:76:c5 loglevel=6',
    );
    expect(plan.containers).toHaveLength(2);
    expect(plan.postContainers[0]).toMatchObject({ image: '10.42.0.1:8002/mupuf/valve-infra/artifact-reaper:latest', env: [{ name: 'CI_JOB_ID', value: '1234567' }] });
    expect(plan.postContainers[0]?.volumes[0]).toMatchObject({ source: '1234567-results', kind: 'named', destination: '/results' });
  });

  it("boots the virtual gateway in vivian (valve-infra Makefile, 'vivian' target)", () => {
    const { plan } = valid(
      'b2c.volume="tmp" b2c.volume="perm" b2c.container="-ti --dns=none -v tmp:/mnt/tmp -v perm:/mnt/permanent --tls-verify=false --entrypoint=/bin/init docker://registry.freedesktop.org/mupuf/valve-infra/valve-infra:latest" b2c.ntp_peer=auto b2c.pipefail b2c.cache_device=auto net.ifnames=0 quiet',
    );
    expect(plan.volumes.map((volume) => volume.name)).toEqual(['tmp', 'perm']);
    expect(plan.containers[0]).toMatchObject({ dns: ['none'], entrypoint: ['/bin/init'], tty: true, interactive: true });
    expect(plan.ntpPeer).toEqual({ kind: 'auto' });
  });

  it('keeps secrets in extra arguments (valve-infra ipxe-boot-server/README.md, boot.ipxe)', () => {
    const { plan } = valid('console=ttyS0,115200 b2c.cache_device=auto b2c.extra_args_url="https://ipxe.example.com/secrets/0f1e2d3c"');
    expect(plan.extraArgsUrl).toBe('https://ipxe.example.com/secrets/0f1e2d3c');
  });
});

describe('Mesa CI (bminor/mesa-mesa .gitlab-ci/b2c/b2c.yml.jinja2.jinja2)', () => {
  const kernel =
    'SALAD.machine_id=b4:2e:99:f0:76:c5\n console=ttyS0,115200\n b2c.cache_device=auto b2c.ntp_peer=10.42.0.1\n b2c.extra_args_url=http://10.42.0.1:8123/b2c-extra-args\n';
  const extra = `b2c.pipefail b2c.poweroff_delay=15
b2c.minio="gateway,http://10.42.0.1:9000,job-access-1234,job-secret-5678"
b2c.volume="job-bucket-42-results,mirror=gateway/job-bucket-42,pull_on=pipeline_start,push_on=changes,overwrite,exclude=*/dEQP-*.shader_cache,exclude=*/install/*,remove,expiration=pipeline_end,preserve"
b2c.run_service="--privileged --tls-verify=false --pid=host docker://10.42.0.1:8002/gfx-ci/ci-tron/telegraf:latest" b2c.hostname=dut-igalia-hp-g4
b2c.run="-ti --tls-verify=false docker://10.42.0.1:8002/gfx-ci/ci-tron/machine-registration:latest check"
b2c.run="-v job-bucket-42-results:/builds/mesa/mesa -w /builds/mesa/mesa  -v /usr/lib/firmware:/usr/lib/firmware --tls-verify=false docker://10.42.0.1:8004/mesa/mesa/debian/x86_64_test-vk:2024-01-01 bash -euc \\"cd /builds/mesa/mesa; ./install/deqp-runner.sh\\""
`;

  it('parses the kernel line, then merges the extra arguments', () => {
    const initial = valid(kernel);
    expect(initial.plan.extraArgsUrl).toBe('http://10.42.0.1:8123/b2c-extra-args');
    const merged = mergeExtraArgs(initial.plan, extra, { env: {}, features: ALL_FEATURES });
    expect(merged.problems).toEqual([]);
    expect(merged.tooLate).toEqual([]);
    expect(merged.plan.services[0]).toMatchObject({ image: '10.42.0.1:8002/gfx-ci/ci-tron/telegraf:latest', pid: 'host', privileged: true });
    expect(merged.plan.hostname).toBe('dut-igalia-hp-g4');
    expect(merged.plan.volumes[0]?.exclude).toEqual(['*/dEQP-*.shader_cache', '*/install/*']);
    const [registration, tests] = merged.plan.containers;
    expect(registration?.command).toEqual(['check']);
    expect(tests).toMatchObject({ workdir: '/builds/mesa/mesa', command: ['bash', '-euc', 'cd /builds/mesa/mesa; ./install/deqp-runner.sh'] });
    expect(tests?.volumes.map((volume) => volume.kind)).toEqual(['named', 'bind']);
  });
});

describe('CI-tron (austriancoder/ci-tron-action dut.yml, a copy of gfx-ci/ci-tron .gitlab-ci/dut.yml)', () => {
  it("prints Hello world (the '.ci-tron-job-v1' introductory example)", () => {
    const { plan } = valid(
      `${MACHINE} b2c.ntp_peer=ci-gateway b2c.run="--tls-verify=false -t 10.42.0.1:8002/gfx-ci/ci-tron/executorctl:latest echo Hello world" b2c.poweroff_delay=15`,
    );
    expect(plan.containers[0]).toMatchObject({ image: '10.42.0.1:8002/gfx-ci/ci-tron/executorctl:latest', command: ['echo', 'Hello', 'world'], tty: true });
    expect(plan.ntpPeer).toEqual({ kind: 'host', host: 'ci-gateway' });
  });

  it("runs a job through '.ci-tron-b2c-job-v1': kernel line plus extra arguments", () => {
    const kernel = `${MACHINE} b2c.ntp_peer=ci-gateway b2c.cache_device=auto b2c.swap=8G,swappiness=60 b2c.extra_args_url=http://10.42.0.1:8123/b2c-extra-args`;
    const extra = `#!jinja2
b2c.pipefail
b2c.poweroff_delay=15
b2c.minio="gateway,http://10.42.0.1:9000,job-access-1234,job-secret-5678"
b2c.volume="job-1-results,mirror=gateway/job-1,pull_on=pipeline_start,push_on=changes,overwrite,exclude=*.log,remove,expiration=pipeline_end,preserve"
b2c.run_service="--privileged --tls-verify=false --pid=host 10.42.0.1:8002/gfx-ci/ci-tron/telegraf:latest" b2c.hostname=dut-1
b2c.run="-ti --tls-verify=false 10.42.0.1:8002/gfx-ci/ci-tron/machine-registration:latest check"
b2c.proxy="https=http://10.42.0.1:8123"
b2c.run="-v job-1-results:/builds/project  -w /builds/project --tls-verify=false --env https_proxy=http://10.42.0.1:8123 --env-file /user/job.env --entrypoint sh 10.42.0.1:8002/gfx-ci/ci-tron/machine-registration:latest -euc 'cat result/file1 result/file2 | tee result/file3'"
`;
    const initial = valid(kernel);
    expect(initial.plan.swap).toEqual({ size: 8 * 1024 ** 3, swappiness: 60 });
    const merged = mergeExtraArgs(initial.plan, extra, { env: {}, features: ALL_FEATURES });
    expect(merged.problems).toEqual([]);
    expect(merged.warnings).toEqual([]);
    expect(merged.plan.proxy).toEqual({ http: undefined, https: 'http://10.42.0.1:8123' });
    const job = merged.plan.containers[1];
    expect(job).toMatchObject({
      entrypoint: ['sh'],
      envFiles: ['/user/job.env'],
      env: [{ name: 'https_proxy', value: 'http://10.42.0.1:8123' }],
      command: ['-euc', 'cat result/file1 result/file2 | tee result/file3'],
    });
  });

  it("boots diskless through '.ci-tron-b2c-diskless-v1': NFS image store, NBD cache and swap", () => {
    const imageId = 'f7c3b5a4e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5';
    const { plan } = valid(
      `${MACHINE} b2c.ntp_peer=ci-gateway b2c.cache_device=/dev/nbd0 b2c.swap=/dev/nbd1 ` +
        'b2c.filesystem=publicimgstore,type=nfs,src=10.42.0.1:/imagestore/public,opts=ro|nolock ' +
        'b2c.storage="additionalimagestores=publicimgstore" ' +
        'b2c.nbd=/dev/nbd0,host=ci-gateway,port=10809,connections=5 b2c.nbd=/dev/nbd1,host=ci-gateway,port=10810,connections=5 ' +
        `b2c.run="-ti --tls-verify=false ${imageId} check"`,
    );
    expect(plan.cacheDevice).toEqual({ kind: 'device', path: '/dev/nbd0' });
    expect(plan.swap).toEqual({ device: '/dev/nbd1' });
    expect(plan.additionalImageStores).toEqual(['publicimgstore']);
    expect(plan.filesystems[0]).toEqual({ name: 'publicimgstore', source: '10.42.0.1:/imagestore/public', type: 'nfs', options: ['ro', 'nolock'] });
    expect(plan.nbd.map((nbd) => [nbd.device, nbd.port])).toEqual([
      ['/dev/nbd0', 10809],
      ['/dev/nbd1', 10810],
    ]);
    expect(plan.containers[0]?.image).toBe(imageId);
  });
});
