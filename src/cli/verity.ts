import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../log/errors.ts';
import { Logger } from '../log/logger.ts';
import { pullAndUnpack, parseReference } from '../oci/index.ts';
import { ContentStore } from '../store/index.ts';
import { buildVerityImage, verityImagePath } from '../verity/image.ts';
import type { CliCommand } from './command.ts';
import { commandArguments } from './pull.ts';

const USAGE = 'usage: ocinit verity [--tls-verify=false] [--platform OS/ARCH[/VARIANT]] [--creds USER:PASSWORD] [--authfile FILE] [--ca-file FILE] [--store DIR] IMAGE';

/**
 * `ocinit verity`: the dm-verity root hash a DUT computes for IMAGE with b2c.image_format=erofs,
 * by the same code from the same verified bytes, so that a publisher can record or sign it.
 */
export const verityCommand: CliCommand = {
  name: 'verity',
  summary: 'print the dm-verity root hash of the EROFS image a DUT builds for an image (b2c.image_format=erofs)',
  usage: USAGE,
  async run(argv) {
    const args = commandArguments('verity', argv, 1, 'expected one IMAGE', USAGE);
    if (typeof args === 'number') return args;
    const logger = new Logger({ sink: (text) => process.stderr.write(text) });
    // Owners are part of the image: only root can give the unpacked files the image's owners.
    if (process.geteuid?.() !== 0) {
      logger.error('ocinit verity: must run as root: the EROFS image holds the files with their owners from the image, which only root can set when unpacking');
      return 1;
    }
    const work = mkdtempSync(join(tmpdir(), 'ocinit-verity-'));
    try {
      const tree = join(work, 'rootfs');
      const pulled = await pullAndUnpack(parseReference(args.positional[0] ?? ''), tree, { ...args.options, store: new ContentStore(args.storeDir), log: logger, limits: args.limits });
      const image = await buildVerityImage(tree, pulled.manifestDigest, verityImagePath(work, pulled.manifestDigest), { image: pulled.reference.canonical, log: logger });
      logger.info(`${pulled.reference.canonical}@${pulled.manifestDigest}: EROFS image ${image.dataBytes} bytes, verity salt ${image.salt}`);
      process.stdout.write(`${image.rootHash}\n`);
      return 0;
    } catch (error) {
      logger.error(`ocinit verity: ${describeError(error)}`);
      return 1;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
