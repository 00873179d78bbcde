import { describeError } from '../log/errors.ts';
import { Logger } from '../log/logger.ts';
import { formatPlatform, inspectImage } from '../oci/index.ts';
import { ContentStore } from '../store/index.ts';
import type { CliCommand } from './command.ts';
import { parseRegistryArguments, type RegistryArguments } from './pull.ts';

const USAGE = 'usage: ocinit inspect [--tls-verify=false] [--platform OS/ARCH[/VARIANT]] [--creds USER:PASSWORD] [--authfile FILE] [--ca-file FILE] [--store DIR] IMAGE';

/** `ocinit inspect`: resolve an image and print its digest, platform, layers and config as JSON. */
export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'print the resolved digest, platform, layers and config of an image as JSON',
  usage: USAGE,
  async run(argv) {
    let args: RegistryArguments | string;
    try {
      args = parseRegistryArguments(argv);
    } catch (error) {
      args = describeError(error);
    }
    if (typeof args === 'string' || args.positional.length !== 1) {
      process.stderr.write(`ocinit inspect: ${typeof args === 'string' ? args : 'expected one IMAGE'}\n${USAGE}\n`);
      return 2;
    }
    const logger = new Logger({ sink: (text) => process.stderr.write(text) });
    try {
      const image = await inspectImage(args.positional[0] ?? '', { ...args.options, store: new ContentStore(args.storeDir), log: logger });
      const report = {
        reference: image.reference.canonical,
        digest: image.manifestDigest,
        platform: formatPlatform(image.platform),
        mediaType: image.manifest.mediaType,
        source: image.source,
        layers: image.layers.map((layer) => ({ digest: layer.descriptor.digest, mediaType: layer.descriptor.mediaType, size: layer.descriptor.size, diffId: layer.diffId })),
        config: image.config,
      };
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    } catch (error) {
      logger.error(`ocinit inspect: ${describeError(error)}`);
      return 1;
    }
  },
};
