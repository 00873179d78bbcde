import { describeError } from '../log/errors.ts';
import { Logger } from '../log/logger.ts';
import { formatPlatform, inspectImage, parseReference } from '../oci/index.ts';
import { ContentStore } from '../store/index.ts';
import { NO_POLICY_VERDICT } from '../policy/verifier.ts';
import type { CliCommand } from './command.ts';
import { commandArguments, REGISTRY_FLAGS } from './pull.ts';

const USAGE = `usage: ocinit inspect ${REGISTRY_FLAGS} IMAGE`;

/** `ocinit inspect`: resolve an image and print its digest, platform, layers and config as JSON. */
export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'print the resolved digest, platform, layers and config of an image as JSON',
  usage: USAGE,
  async run(argv) {
    const args = commandArguments('inspect', argv, 1, 'expected one IMAGE', USAGE);
    if (typeof args === 'number') return args;
    const logger = new Logger({ sink: (text) => process.stderr.write(text) });
    try {
      const image = await inspectImage(parseReference(args.positional[0] ?? ''), { ...args.options, store: new ContentStore(args.storeDir), log: logger });
      const report = {
        reference: image.reference.canonical,
        digest: image.manifestDigest,
        platform: formatPlatform(image.platform),
        mediaType: image.manifest.mediaType,
        source: image.source,
        signature: (image.verdict ?? NO_POLICY_VERDICT).text,
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
