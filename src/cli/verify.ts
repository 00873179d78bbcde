import { describeError } from '../log/errors.ts';
import { Logger } from '../log/logger.ts';
import { inspectImage, parseReference } from '../oci/index.ts';
import { ImageRefusedError } from '../policy/verifier.ts';
import { ContentStore } from '../store/index.ts';
import type { CliCommand } from './command.ts';
import { commandArguments, REGISTRY_FLAGS } from './pull.ts';

const USAGE = `usage: ocinit verify --policy POLICY.json ${REGISTRY_FLAGS.replace('[--policy POLICY.json] ', '')} IMAGE`;

/** `ocinit verify`: what the policy says about an image, without downloading its layers. */
export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: "check an image's signatures against a containers-policy.json (exit 1 when refused)",
  usage: USAGE,
  async run(argv) {
    const args = commandArguments('verify', argv, 1, 'expected one IMAGE', USAGE);
    if (typeof args === 'number') return args;
    if (args.options.verifier === undefined) {
      process.stderr.write(`ocinit verify: --policy is required\n${USAGE}\n`);
      return 2;
    }
    const logger = new Logger({ sink: (text) => process.stderr.write(text) });
    try {
      const image = await inspectImage(parseReference(args.positional[0] ?? ''), { ...args.options, store: new ContentStore(args.storeDir), log: logger });
      process.stdout.write(`${image.reference.canonical}: ${image.verdict?.text ?? 'no verdict'}\n`);
      return 0;
    } catch (error) {
      if (error instanceof ImageRefusedError) process.stdout.write(`${error.message}\n`);
      else logger.error(`ocinit verify: ${describeError(error)}`);
      return 1;
    }
  },
};
