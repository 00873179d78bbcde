// What this build of ocinit can honour. A parameter or option that needs a feature this build lacks
// is refused by the parser, so `ocinit cmdline` and the boot print the same error before anything
// runs, instead of accepting it and silently doing nothing. When a feature lands, its entry here
// becomes `supported: true` and its refusal disappears with no other change.
import { splitNamedOptions, type ValueContext } from './values.ts';

export type FeatureId = 's3-mirroring' | 's3-encryption' | 'fscrypt' | 'nbd' | 'additional-image-stores' | 'verity-images';

export interface Feature {
  supported: boolean;
  /** What the operator asked for, as the message names it. */
  description: string;
  hint: string;
  /** For docs/cmdline.md: the parameters and options that need it. */
  uses: string;
  /** What in one parameter value needs the feature (parameter or option names), [] when nothing. */
  usedBy(parameter: string, value: string): string[];
}

/** The options of a b2c.volume value among `wanted`, written as the operator wrote them (`mirror=`, `overwrite`). */
function volumeOptions(parameter: string, value: string, wanted: readonly string[]): string[] {
  if (parameter !== 'b2c.volume') return [];
  const written = new Map(splitNamedOptions(value).items.map((item) => [item.key, item.value === undefined ? item.key : `${item.key}=`]));
  return wanted.flatMap((option) => written.get(option) ?? []);
}

const whole = (name: string) => (parameter: string): string[] => (parameter === name ? [name] : []);

export const FEATURES: Readonly<Record<FeatureId, Feature>> = {
  's3-mirroring': {
    supported: true,
    description: 'S3 mirroring',
    uses: '`b2c.minio`; the `b2c.volume` options `mirror=`, `pull_from=`, `push_to=`, `pull_on=`, `push_on=`, `overwrite`, `remove`, `exclude=`, `preserve`',
    hint: 'use boot2container for jobs that mirror volumes to S3 until ocinit supports it',
    usedBy: (parameter, value) =>
      parameter === 'b2c.minio' ? ['b2c.minio'] : volumeOptions(parameter, value, ['mirror', 'pull_from', 'push_to', 'pull_on', 'push_on', 'overwrite', 'remove', 'exclude', 'preserve']),
  },
  's3-encryption': {
    supported: true,
    description: 'S3 server-side encryption',
    uses: 'the `b2c.volume` option `encrypt_key=`',
    hint: 'drop encrypt_key= or use boot2container until ocinit supports it',
    usedBy: (parameter, value) => volumeOptions(parameter, value, ['encrypt_key']),
  },
  fscrypt: {
    supported: true,
    description: 'fscrypt-encrypted volumes',
    uses: 'the `b2c.volume` options `fscrypt_key=`, `fscrypt_reset_key`',
    hint: 'drop fscrypt_key= and fscrypt_reset_key, or use boot2container until ocinit supports them',
    usedBy: (parameter, value) => volumeOptions(parameter, value, ['fscrypt_key', 'fscrypt_reset_key']),
  },
  nbd: {
    supported: true,
    description: 'network block devices',
    uses: '`b2c.nbd`',
    hint: 'drop b2c.nbd, or use boot2container until ocinit supports it',
    usedBy: whole('b2c.nbd'),
  },
  'additional-image-stores': {
    supported: true,
    description: 'additional image stores',
    uses: '`b2c.storage`',
    hint: 'drop b2c.storage (the images are then pulled), or use boot2container until ocinit supports it',
    usedBy: whole('b2c.storage'),
  },
  'verity-images': {
    supported: true,
    description: 'EROFS images on dm-verity',
    uses: '`b2c.image_format=erofs`',
    hint: 'drop b2c.image_format=erofs (the images then run from their unpacked trees)',
    usedBy: (parameter, value) => (parameter === 'b2c.image_format' && value === 'erofs' ? ['b2c.image_format=erofs'] : []),
  },
};

/** How a message names what asked: never the whole value, which may hold keys. */
function subject(parameter: string, value: string): string {
  const name = value.split(',')[0] ?? '';
  if (parameter === 'b2c.volume') return `volume ${name}: `;
  if (parameter === 'b2c.minio') return `alias ${name}: `;
  if (parameter === 'b2c.nbd') return `${name}: `;
  return '';
}

/**
 * Reports, in `context`, every feature one parameter value needs and this build lacks. The parser
 * calls it for every parameter it applies: the linter and the boot refuse with the same words.
 */
export function refuseUnsupported(parameter: string, value: string, context: ValueContext, features: Readonly<Record<FeatureId, Feature>> = FEATURES): void {
  for (const feature of Object.values(features)) {
    if (feature.supported) continue;
    const used = feature.usedBy(parameter, value);
    if (used.length === 0) continue;
    const verb = used.length === 1 ? 'needs' : 'need';
    context.problem(`${subject(parameter, value)}${used.join(', ')} ${verb} ${feature.description}, which this ocinit does not support yet`, feature.hint);
  }
}
