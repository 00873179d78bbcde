import { describeError } from '../log/errors.ts';
import { Logger } from '../log/logger.ts';
import { loadSigningKey, signImage } from '../policy/sign.ts';
import { ContentStore } from '../store/index.ts';
import type { CliCommand } from './command.ts';
import { commandArguments } from './pull.ts';

const USAGE = 'usage: ocinit sign --key KEY.pem [--bundle] [--tls-verify=false] [--creds USER:PASSWORD] [--authfile FILE] [--ca-file FILE] [--proxy URL] IMAGE';

/** `--key FILE` and `--bundle` taken out of the arguments (the other flags are the registry flags). */
function takeKey(argv: readonly string[]): { key: string | undefined; bundle: boolean; rest: string[] } {
  const rest: string[] = [];
  let key: string | undefined;
  let bundle = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    if (arg === '--bundle') bundle = true;
    else if (arg === '--key') key = argv[++index];
    else if (arg.startsWith('--key=')) key = arg.slice('--key='.length);
    else rest.push(arg);
  }
  return { key, bundle, rest };
}

/** `ocinit sign`: pushes a cosign signature of what IMAGE resolves to at its registry. */
export const signCommand: CliCommand = {
  name: 'sign',
  summary: 'sign an image with a key and push the signature as cosign does (sha256-DIGEST.sig; --bundle: a Sigstore bundle referrer, as cosign v3)',
  usage: USAGE,
  async run(argv) {
    const { key, bundle, rest } = takeKey(argv);
    const args = commandArguments('sign', rest, 1, 'expected one IMAGE', USAGE);
    if (typeof args === 'number') return args;
    if (key === undefined || key === '') {
      process.stderr.write(`ocinit sign: --key KEY.pem is required\n${USAGE}\n`);
      return 2;
    }
    const logger = new Logger({ sink: (text) => process.stderr.write(text) });
    try {
      const result = await signImage(args.positional[0] ?? '', loadSigningKey(key), { ...args.options, store: new ContentStore(args.storeDir), log: logger }, bundle ? 'bundle' : 'simple-signing');
      process.stdout.write(`${result.location}\n`);
      return 0;
    } catch (error) {
      logger.error(`ocinit sign: ${describeError(error)}`);
      return 1;
    }
  },
};
