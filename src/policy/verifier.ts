// The pull path's verifier for a loaded policy: judges each image once it resolved, before any of
// its layers is downloaded; a refusal is an error naming the image, the scope, the key and why.
import { describeError, OcinitError } from '../log/errors.ts';
import type { ImageVerdict, ImageVerifier, PullOptions } from '../oci/pull.ts';
import type { ImageReference } from '../reference/reference.ts';
import { fetchBundles } from './bundle-signatures.ts';
import { judge, type FoundSignatures } from './judge.ts';
import type { LoadedPolicy } from './load.ts';
import { fetchSignatures } from './signatures.ts';

/** An image the policy does not let run. */
export class ImageRefusedError extends OcinitError {
  override readonly code: string = 'OCINIT_IMAGE_REFUSED';
}

/** b2c.signatures=required without a built-in policy: no key to verify anything with. */
export class RefuseAllVerifier implements ImageVerifier {
  verify(image: { reference: ImageReference; topDigest: string }): Promise<ImageVerdict> {
    return Promise.reject(
      new ImageRefusedError(`${image.reference.canonical} (${image.topDigest}) refused: b2c.signatures=required, and this initramfs has no built-in policy to verify it with`, {
        image: image.reference.canonical,
        parameter: 'b2c.signatures',
        hint: 'build the initramfs with make initrd POLICY=policy.json, or drop b2c.signatures=required',
      }),
    );
  }
}

/** The summary's words when no policy applies. */
export const NO_POLICY_VERDICT: ImageVerdict = { signed: false, text: 'unsigned: no policy' };

/** The verdict an image carries, as the summary prints it. */
export function signatureText(image: { verdict?: ImageVerdict }): string {
  return (image.verdict ?? NO_POLICY_VERDICT).text;
}

export interface VerifierSettings {
  /** b2c.signatures=required: an image the policy accepts unsigned is refused too. */
  requireSignatures?: boolean;
}

export class PolicyVerifier implements ImageVerifier {
  readonly policy: LoadedPolicy;
  readonly #requireSignatures: boolean;

  constructor(policy: LoadedPolicy, settings: VerifierSettings = {}) {
    this.policy = policy;
    this.#requireSignatures = settings.requireSignatures ?? false;
  }

  async #read(name: string, digest: string, fetch: () => Promise<FoundSignatures>): Promise<FoundSignatures> {
    try {
      return await fetch();
    } catch (error) {
      throw new ImageRefusedError(`${name} (${digest}) refused by policy ${this.policy.source}: its signatures could not be read: ${describeError(error)}`, {
        image: name,
        cause: error,
        hint: 'the signature image and referrers must be reachable from the same registry or mirrors as the image',
      });
    }
  }

  async verify(image: { reference: ImageReference; topDigest: string }, options: PullOptions): Promise<ImageVerdict> {
    const name = image.reference.canonical;
    const verdict = await judge({
      policy: this.policy,
      reference: image.reference,
      topDigest: image.topDigest,
      // The .sig image first (cosign v2, ocinit sign), then Sigstore bundle referrers (cosign v3).
      signatures: [() => this.#read(name, image.topDigest, () => fetchSignatures(image.reference, image.topDigest, options)), () => this.#read(name, image.topDigest, () => fetchBundles(image.reference, image.topDigest, options))],
    });
    if (verdict.accepted && !verdict.signed && this.#requireSignatures) {
      throw new ImageRefusedError(`${name} (${image.topDigest}) refused: b2c.signatures=required, and ${verdict.scope} of policy ${this.policy.source} accepts it unsigned`, {
        image: name,
        hint: 'sign it with a key the built-in policy trusts, or drop b2c.signatures=required',
      });
    }
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
