// The policy's decision for one image, given the signatures found for it. Pure apart from asking
// for the signatures, which happens only when a sigstoreSigned requirement applies.
import { parseReference, type ImageReference } from '../reference/reference.ts';
import type { Policy, Requirement, SignedIdentity } from './document.ts';
import type { TrustedKey } from './keys.ts';
import { identityMatches, requirementsFor } from './scope.ts';
import { parsePayload, signatureValid } from './simple-signing.ts';

/** One simple-signing layer of a signature image: nothing in it is trusted yet. */
export interface CandidateSignature {
  /** The payload blob's digest, for messages. */
  digest: string;
  payload: Buffer;
  /** The `dev.cosignproject.cosign/signature` annotation; undefined when the layer had none. */
  signature: string | undefined;
}

/** Where the signatures came from, and what was there. */
export interface FoundSignatures {
  /** `registry/repo:sha256-HEX.sig` as asked for, with the source that answered. */
  location: string;
  signatures: CandidateSignature[];
}

export type Verdict =
  | { accepted: true; signed: true; scope: string; key: string; text: string }
  | { accepted: true; signed: false; scope: string; text: string }
  | { accepted: false; scope: string; text: string };

function describeIdentity(identity: SignedIdentity): string {
  switch (identity.type) {
    case 'exactReference':
      return `exactReference ${identity.dockerReference}`;
    case 'exactRepository':
      return `exactRepository ${identity.dockerRepository}`;
    case 'remapIdentity':
      return `remapIdentity ${identity.prefix} → ${identity.signedPrefix}`;
    default:
      return identity.type;
  }
}

/** Why one candidate does not satisfy the requirement, or the key that accepted it. */
function judgeSignature(
  requirement: Extract<Requirement<TrustedKey>, { type: 'sigstoreSigned' }>,
  candidate: CandidateSignature,
  intended: ImageReference,
  topDigest: string,
): { key: TrustedKey } | { reason: string } {
  if (candidate.signature === undefined) return { reason: 'has no dev.cosignproject.cosign/signature annotation' };
  const signature = candidate.signature;
  const key = requirement.keys.find((trusted) => signatureValid(trusted, candidate.payload, signature));
  if (key === undefined) return { reason: `is not signed by ${requirement.keys.map((trusted) => trusted.label).join(' or ')} (another key, or a tampered payload)` };
  const claims = parsePayload(candidate.payload);
  if (typeof claims === 'string') return { reason: claims };
  if (claims.manifestDigest !== topDigest) {
    return { reason: `signs manifest ${claims.manifestDigest}, not ${topDigest} (a signature of another image, or the tag was moved after signing)` };
  }
  let signed: ImageReference;
  try {
    signed = parseReference(claims.dockerReference);
  } catch {
    return { reason: `claims the invalid identity '${claims.dockerReference.slice(0, 200)}'` };
  }
  if (!identityMatches(requirement.signedIdentity, intended, signed)) {
    return { reason: `claims identity ${claims.dockerReference}, which signedIdentity ${describeIdentity(requirement.signedIdentity)} does not accept for ${intended.canonical}` };
  }
  return { key };
}

export interface JudgeInput {
  policy: Policy<TrustedKey>;
  reference: ImageReference;
  /** The digest the reference resolved to: for a multi-arch image, the index's. */
  topDigest: string;
  /** Fetches the signatures (asked for at most once). */
  signatures: () => Promise<FoundSignatures>;
}

/**
 * Every requirement of the applicable scope must be met (containers/image semantics): `reject`
 * refuses, `insecureAcceptAnything` accepts, `sigstoreSigned` needs one signature, among those
 * found, that one of its keys made over a payload naming this digest and an acceptable identity.
 */
export async function judge(input: JudgeInput): Promise<Verdict> {
  const { scope, requirements } = requirementsFor(input.policy, input.reference);
  let found: FoundSignatures | undefined;
  let acceptedBy: string | undefined;
  for (const requirement of requirements) {
    if (requirement.type === 'reject') return { accepted: false, scope, text: `refused: the policy rejects every image in ${scope}` };
    if (requirement.type === 'insecureAcceptAnything') continue;
    found ??= await input.signatures();
    if (found.signatures.length === 0) return { accepted: false, scope, text: `refused: no signature at ${found.location} (${scope} requires sigstoreSigned)` };
    const reasons: string[] = [];
    let key: TrustedKey | undefined;
    for (const [index, candidate] of found.signatures.entries()) {
      const result = judgeSignature(requirement, candidate, input.reference, input.topDigest);
      if ('key' in result) {
        key = result.key;
        break;
      }
      reasons.push(`signature ${index + 1} (${candidate.digest}) ${result.reason}`);
    }
    if (key === undefined) return { accepted: false, scope, text: `refused: no valid signature at ${found.location}: ${reasons.join('; ')}` };
    acceptedBy = key.label;
  }
  if (acceptedBy === undefined) return { accepted: true, signed: false, scope, text: `unsigned: accepted by ${scope} (insecureAcceptAnything)` };
  return { accepted: true, signed: true, scope, key: acceptedBy, text: `signed: ${input.topDigest} verified with ${acceptedBy} (${scope})` };
}
