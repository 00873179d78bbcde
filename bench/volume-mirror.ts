// One mirror run of ocinit's volume code, as the initramfs runs it, for bench/volumes to time and
// measure (its own process, so its peak RSS is ocinit's alone).
// usage: volume-mirror.ts push|pull DIR ENDPOINT BUCKET[/PATH]   (keys in S3_ACCESS_KEY, S3_SECRET_KEY)
import { Secret } from '../src/log/secret.ts';
import { S3Client } from '../src/s3/client.ts';
import { pull, push } from '../src/volumes/sync.ts';

async function main(direction: string | undefined, dir: string | undefined, url: string | undefined, location: string | undefined): Promise<number> {
  if ((direction !== 'push' && direction !== 'pull') || dir === undefined || url === undefined || location === undefined) {
    process.stderr.write('usage: volume-mirror.ts push|pull DIR ENDPOINT BUCKET[/PATH]\n');
    return 64;
  }
  const [bucket = '', ...path] = location.split('/');
  const client = new S3Client({ alias: 'bench', url, accessKey: new Secret(process.env.S3_ACCESS_KEY ?? ''), secretKey: new Secret(process.env.S3_SECRET_KEY ?? '') });
  const options = { overwrite: true, remove: true, exclude: [], preserve: false };
  const result = await (direction === 'push' ? push : pull)(client, dir, { alias: 'bench', bucket, path: path.join('/') }, options);
  await client.close();
  if (result.failed.length > 0) {
    process.stderr.write(`${result.failed.length} file(s) failed: ${result.failed.map((item) => item.path).join(', ')}\n`);
    return 1;
  }
  process.stdout.write(`${result.transferred.length} transferred\n`);
  return 0;
}

// Bundled as CommonJS (as the launcher is), so no top-level await.
void main(...(process.argv.slice(2, 6) as [string?, string?, string?, string?])).then((code) => {
  process.exitCode = code;
});
