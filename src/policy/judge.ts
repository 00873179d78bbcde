// The policy's decision for one image, given the signatures found for it. Pure apart from asking
// for the signatures, which happens only when a sigstoreSigned requirement applies.
import { parseReference, type ImageReference } from '../reference/reference.ts';
import type { Policy, Requirement, SignedIdentity } from './document.ts';
import type { TrustedKey } from './keys.ts';
import { identityMatches, requirementsFor } from './scope.ts';
import { parsePayload, signatureValid } from './simple-signing.ts';
import { openBundle, type SignedSubject } from './sigstore-bundle.ts';

/** One simple-signing layer of a `.sig` signature image: nothing in it is trusted yet. */
export interface SimpleSigningCandidate {
  kind: 'simple-signing';
  /** The payload blob's digest, for messages. */
  digest: string;
  payload: Buffer;
  /** The `dev.cosignproject.cosign/signature` annotation; undefined when the layer had none. */
  signature: string | undefined;
}

/** One Sigstore bundle found among an image's OCI referrers: nothing in it is trusted yet. */
export interface BundleCandidate {
  kind: 'bundle';
  /** The referrer manifest's digest, for messages. */
  digest: string;
  bundle: Buffer;
}

/** A referrer that cannot be a signature of this image (said why, as any failed candidate is). */
export interface UnusableCandidate {
  kind: 'unusable';
  digest: string;
  reason: string;
}

export type CandidateSignature = SimpleSigningCandidate | BundleCandidate | UnusableCandidate;

/** Where the signatures came from, and what was there. */
export interface FoundSignatures {
  /** `registry/repo:sha256-HEX.sig`, or the referrers of `registry/repo@DIGEST`, with the source that answered. */
  location: string;
  signatures: CandidateSignature[];
}

/** A place signatures come from, asked only when the ones before it held no valid signature. */
export type SignatureSource = () => Promise<FoundSignatures>;

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

/** The key that made the candidate and what it signed, or why it is not a signature by those keys. */
function openCandidate(keys: readonly TrustedKey[], candidate: CandidateSignature): { key: TrustedKey; subjects: SignedSubject[] } | { reason: string } {
  switch (candidate.kind) {
    case 'unusable':
      return { reason: candidate.reason };
    case 'bundle': {
      const opened = openBundle(candidate.bundle, keys);
      return typeof opened === 'string' ? { reason: opened } : opened;
    }
    case 'simple-signing': {
      if (candidate.signature === undefined) return { reason: 'has no dev.cosignproject.cosign/signature annotation' };
      const signature = candidate.signature;
      const key = keys.find((trusted) => signatureValid(trusted, candidate.payload, signature));
      if (key === undefined) return { reason: `is not signed by ${keys.map((trusted) => trusted.label).join(' or ')} (another key, or a tampered payload)` };
      const claims = parsePayload(candidate.payload);
      if (typeof claims === 'string') return { reason: claims };
      return { key, subjects: [{ digest: claims.manifestDigest, identity: claims.dockerReference }] };
    }
  }
}

/** Why one candidate does not satisfy the requirement, or the key that accepted it. */
function judgeSignature(
  requirement: Extract<Requirement<TrustedKey>, { type: 'sigstoreSigned' }>,
  candidate: CandidateSignature,
  intended: ImageReference,
  topDigest: string,
): { key: TrustedKey } | { reason: string } {
  const opened = openCandidate(requirement.keys, candidate);
  if ('reason' in opened) return opened;
  const matching = opened.subjects.filter((subject) => subject.digest === topDigest);
  if (matching.length === 0) {
    return { reason: `signs manifest ${opened.subjects.map((subject) => subject.digest).join(', ')}, not ${topDigest} (a signature of another image, or the tag was moved after signing)` };
  }
  const refusals: string[] = [];
  for (const subject of matching) {
    // cosign v3's statement names the digest alone: it is taken as that digest in the repository
    // where it was found, so that signedIdentity still decides what a digest-only claim may stand for.
    const claimed = subject.identity ?? `${intended.registry}/${intended.repository}@${topDigest}`;
    let signed: ImageReference;
    try {
      signed = parseReference(claimed);
    } catch {
      refusals.push(`claims the invalid identity '${claimed.slice(0, 200)}'`);
      continue;
    }
    if (identityMatches(requirement.signedIdentity, intended, signed)) return { key: opened.key };
    refusals.push(
      subject.identity === undefined
        ? `names no identity (cosign v3 signs the digest alone), taken as ${claimed}, which signedIdentity ${describeIdentity(requirement.signedIdentity)} does not accept for ${intended.canonical} (pin the image by digest, or use signedIdentity matchRepository)`
        : `claims identity ${claimed}, which signedIdentity ${describeIdentity(requirement.signedIdentity)} does not accept for ${intended.canonical}`,
    );
  }
  return { reason: refusals.join('; ') };
}

function labelOf(candidate: CandidateSignature, index: number): string {
  return `${candidate.kind === 'simple-signing' ? 'signature' : 'bundle'} ${index + 1} (${candidate.digest})`;
}

export interface JudgeInput {
  policy: Policy<TrustedKey>;
  reference: ImageReference;
  /** The digest the reference resolved to: for a multi-arch image, the index's. */
  topDigest: string;
  /**
   * Where signatures are, in order: each asked at most once, and only when those before held no
   * valid one. A source that fails does not stop the next; its error is thrown when none had one.
   */
  signatures: SignatureSource | readonly SignatureSource[];
}

/**
 * Every requirement of the applicable scope must be met (containers/image semantics): `reject`
 * refuses, `insecureAcceptAnything` accepts, `sigstoreSigned` needs one signature, among those
 * found, that one of its keys made over a payload naming this digest and an acceptable identity.
 */
export async function judge(input: JudgeInput): Promise<Verdict> {
  const { scope, requirements } = requirementsFor(input.policy, input.reference);
  const sources = typeof input.signatures === 'function' ? [input.signatures] : input.signatures;
  // What each source gave, or the error it threw (thrown in turn only if no other source has a valid signature).
  const found: (FoundSignatures | { failed: unknown } | undefined)[] = sources.map(() => undefined);
  let acceptedBy: string | undefined;
  let fromBundle = false;
  for (const requirement of requirements) {
    if (requirement.type === 'reject') return { accepted: false, scope, text: `refused: the policy rejects every image in ${scope}` };
    if (requirement.type === 'insecureAcceptAnything') continue;
    const reasons: string[] = [];
    const searched: string[] = [];
    let accepted: { key: TrustedKey; candidate: CandidateSignature } | undefined;
    let failure: { failed: unknown } | undefined;
    for (const [at, source] of sources.entries()) {
      const set = (found[at] ??= await source().catch((error: unknown) => ({ failed: error })));
      if ('failed' in set) {
        failure ??= set;
        continue;
      }
      searched.push(set.location);
      const own: string[] = [];
      for (const [index, candidate] of set.signatures.entries()) {
        const result = judgeSignature(requirement, candidate, input.reference, input.topDigest);
        if ('key' in result) {
          accepted = { key: result.key, candidate };
          break;
        }
        own.push(`${labelOf(candidate, index)} ${result.reason}`);
      }
      if (accepted !== undefined) break;
      if (own.length > 0) reasons.push(`${set.location}: ${own.join('; ')}`);
    }
    if (accepted === undefined) {
      if (failure !== undefined) throw failure.failed;
      if (reasons.length === 0) return { accepted: false, scope, text: `refused: no signature at ${searched.join(' nor among ')} (${scope} requires sigstoreSigned)` };
      return { accepted: false, scope, text: `refused: no valid signature at ${reasons.join('; at ')}` };
    }
    acceptedBy = accepted.key.label;
    fromBundle ||= accepted.candidate.kind === 'bundle';
  }
  if (acceptedBy === undefined) return { accepted: true, signed: false, scope, text: `unsigned: accepted by ${scope} (insecureAcceptAnything)` };
  return { accepted: true, signed: true, scope, key: acceptedBy, text: `signed: ${input.topDigest} verified with ${acceptedBy} (${scope}${fromBundle ? ', Sigstore bundle' : ''})` };
}
