// bench/volumes: push and pull of a job's results volume (1 000 small files and one 500 MB file)
// to Debian's Ceph RADOS gateway on loopback, ocinit's volume mirroring beside `rclone sync` (S3
// remote) in the same run: medians of each, the ratios, and ocinit's peak RSS (GNU time's %M).
// The gateway's memstore keeps objects in RAM: it is sized for every copy the runs make.
// usage: bench/volumes [--runs N] [--big-mb N] [--small N]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { LAUNCHER_ENVIRONMENT } from '../src/cmdline/boot-env.ts';
import { boto3, createBucket, startS3Gateway, stopS3Gateway } from '../test/support/s3-gateway.ts';
import { median } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'big-mb': { type: 'string', default: '500' }, small: { type: 'string', default: '1000' } } });
const runs = Number.parseInt(values.runs ?? '3', 10);
const bigMb = Number.parseInt(values['big-mb'] ?? '500', 10);
const smallCount = Number.parseInt(values.small ?? '1000', 10);
const here = new URL('.', import.meta.url).pathname;
const node = join(here, '../node_modules/.bin/node');

interface Sample {
  seconds: number;
  rssKb: number;
}

/** Runs a command under GNU time: wall seconds and peak RSS. */
function timed(command: string, args: string[], env: Record<string, string>): Sample {
  // AWS_CA_BUNDLE makes rclone's AWS SDK replace its HTTP transport, which rclone refuses; plain HTTP here needs no CA.
  const { AWS_CA_BUNDLE: _unused, ...inherited } = process.env;
  void _unused;
  const result = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], { encoding: 'utf8', env: { ...inherited, ...env }, maxBuffer: 16 << 20 });
  const match = /TIME ([\d.]+) (\d+)/.exec(result.stderr);
  if (result.status !== 0 || match === null) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr.slice(-2000)}`);
  return { seconds: Number(match[1]), rssKb: Number(match[2]) };
}

function makeVolume(dir: string): void {
  mkdirSync(join(dir, 'results', 'tests'), { recursive: true });
  for (let index = 0; index < smallCount; index++) writeFileSync(join(dir, 'results', 'tests', `case-${String(index).padStart(4, '0')}.json`), randomBytes(512 + (index % 7) * 700).toString('base64'));
  const file = openSync(join(dir, 'results', 'trace.bin'), 'w');
  const chunk = randomBytes(1 << 20);
  for (let mb = 0; mb < bigMb; mb++) writeSync(file, chunk);
  closeSync(file);
}

const work = mkdtempSync(join(tmpdir(), 'ocinit-bench-volumes-'));
// Bundled as the initramfs' code is: run from TypeScript sources, Node's type stripping alone adds ~50 MB RSS.
const mirror = join(work, 'volume-mirror.cjs');
await build({ entryPoints: [join(here, 'volume-mirror.ts')], bundle: true, platform: 'node', target: 'node24', format: 'cjs', outfile: mirror, logLevel: 'warning' });
const gatewayDir = join(work, 'gateway');
const volumeBytes = bigMb * (1 << 20) + smallCount * 3000;
// Deleted objects leave memstore only when the gateway's garbage collection runs (hours later): room for every run's copies.
const gateway = await startS3Gateway(gatewayDir, { storeBytes: Math.ceil(volumeBytes * 2 * runs * 1.3) + (1 << 30) });
const samples = { ocinit: { push: [] as Sample[], pull: [] as Sample[] }, rclone: { push: [] as Sample[], pull: [] as Sample[] } };
try {
  // Ceph creates the data and multipart pools on first use (~2 s each): let neither tool pay for it.
  writeFileSync(join(work, 'warm.bin'), randomBytes(12 << 20));
  boto3(gateway, `s3.create_bucket(Bucket="warm")\ns3.put_object(Bucket="warm", Key="small", Body=b"x")\ns3.upload_file(${JSON.stringify(join(work, 'warm.bin'))}, "warm", "big")\nprint("null")`);
  const source = join(work, 'source');
  makeVolume(source);
  const rcloneEnv = {
    RCLONE_CONFIG_GW_TYPE: 's3',
    RCLONE_CONFIG_GW_PROVIDER: 'Ceph',
    RCLONE_CONFIG_GW_ACCESS_KEY_ID: gateway.accessKey,
    RCLONE_CONFIG_GW_SECRET_ACCESS_KEY: gateway.secretKey,
    RCLONE_CONFIG_GW_ENDPOINT: gateway.url,
    RCLONE_CONFIG_GW_REGION: gateway.region,
  };
  // The launcher's memory settings as initrd/init.sh exports them on the device, so the peak RSS is the DUT's.
  const ocinitEnv = { ...LAUNCHER_ENVIRONMENT, S3_ACCESS_KEY: gateway.accessKey, S3_SECRET_KEY: gateway.secretKey };
  for (let run = 0; run < runs; run++) {
    // Alternate who goes first, so neither always meets a warmer gateway.
    const order = run % 2 === 0 ? (['ocinit', 'rclone'] as const) : (['rclone', 'ocinit'] as const);
    for (const tool of order) {
      const bucket = `bench-${tool}-${run}`;
      createBucket(gateway, bucket);
      const target = join(work, `pulled-${tool}`);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(target);
      if (tool === 'ocinit') {
        samples.ocinit.push.push(timed(node, [mirror, 'push', source, gateway.url, `${bucket}/job`], ocinitEnv));
        samples.ocinit.pull.push(timed(node, [mirror, 'pull', target, gateway.url, `${bucket}/job`], ocinitEnv));
      } else {
        samples.rclone.push.push(timed('rclone', ['sync', source, `gw:${bucket}/job`], rcloneEnv));
        samples.rclone.pull.push(timed('rclone', ['sync', `gw:${bucket}/job`, target], rcloneEnv));
      }
      const check = spawnSync('diff', ['-r', '-q', source, target], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`${tool}: the pulled volume differs from the pushed one: ${check.stdout.slice(0, 1000)}`);
      const last = (list: Sample[]): string => `${(list.at(-1)?.seconds ?? Number.NaN).toFixed(2)} s, ${((list.at(-1)?.rssKb ?? Number.NaN) / 1024).toFixed(0)} MB`;
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
      process.stderr.write(`run ${run + 1}/${runs} ${tool}: push ${last(samples[tool].push)}, pull ${last(samples[tool].pull)}; load ${load}\n`);
    }
  }
} finally {
  stopS3Gateway(gatewayDir);
  rmSync(work, { recursive: true, force: true });
}

const seconds = (list: Sample[]): number => median(list.map((sample) => sample.seconds));
const rssMb = (list: Sample[]): number => Math.max(...list.map((sample) => sample.rssKb)) / 1024;
const rcloneVersion = spawnSync('rclone', ['version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
const radosgwVersion = spawnSync('radosgw', ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`bench/volumes: ${smallCount} small files + one ${bigMb} MB file, ${runs} runs, medians; ${cpus().length} x ${cpus()[0]?.model ?? '?'}`);
console.log(`ocinit as the initramfs starts it: ${Object.entries(LAUNCHER_ENVIRONMENT).map(([name, value]) => `${name}=${value}`).join(' ')}`);
console.log(`peer: ${rcloneVersion} (rclone sync, S3 remote, defaults); server: ${radosgwVersion}, memstore, loopback`);
for (const direction of ['push', 'pull'] as const) {
  const ours = seconds(samples.ocinit[direction]);
  const theirs = seconds(samples.rclone[direction]);
  console.log(
    `${direction}: ocinit ${ours.toFixed(2)} s (peak RSS ${rssMb(samples.ocinit[direction]).toFixed(0)} MB), rclone ${theirs.toFixed(2)} s (peak RSS ${rssMb(samples.rclone[direction]).toFixed(0)} MB): rclone/ocinit ${(theirs / ours).toFixed(2)}x`,
  );
}
