// The pull path's verifier for a loaded policy: judges each image once it resolved, before any of
// its layers is downloaded; a refusal is an error naming the image, the scope, the key and why.
import { describeError, OcinitError } from '../log/errors.ts';
import type { ImageVerdict, ImageVerifier, PullOptions } from '../oci/pull.ts';
import type { ImageReference } from '../oci/reference.ts';
import { judge } from './judge.ts';
import type { LoadedPolicy } from './load.ts';
import { fetchSignatures } from './signatures.ts';

/** An image the policy does not let run. */
export class ImageRefusedError extends OcinitError {
  readonly code = 'IMAGE_REFUSED';
}

/** The summary's words when no policy applies. */
export const NO_POLICY_VERDICT: ImageVerdict = { signed: false, text: 'unsigned: no policy' };

export class PolicyVerifier implements ImageVerifier {
  readonly policy: LoadedPolicy;

  constructor(policy: LoadedPolicy) {
    this.policy = policy;
  }

  async verify(image: { reference: ImageReference; topDigest: string }, options: PullOptions): Promise<ImageVerdict> {
    const name = image.reference.canonical;
    const verdict = await judge({
      policy: this.policy,
      reference: image.reference,
      topDigest: image.topDigest,
      signatures: async () => {
        try {
          return await fetchSignatures(image.reference, image.topDigest, options);
        } catch (error) {
          throw new ImageRefusedError(`${name} (${image.topDigest}) refused by policy ${this.policy.source}: its signatures could not be read: ${describeError(error)}`, {
            image: name,
            cause: error,
            hint: 'the signature image must be reachable from the same registry or mirrors as the image',
          });
        }
      },
    });
    if (!verdict.accepted) {
      throw new ImageRefusedError(`${name} (${image.topDigest}) ${verdict.text}; policy ${this.policy.source}`, {
        image: name,
        hint: 'nothing of this image was downloaded or run; sign it (ocinit sign --key KEY.pem IMAGE, or cosign sign --key) or change the policy',
      });
    }
    options.log?.info(`${name}: ${verdict.text}`);
    return { signed: verdict.signed, text: verdict.text };
  }
}
