// A policy file with its keys read: what the pull path enforces. Any key that is missing or
// unusable refuses the whole policy, naming the field.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { OcinitError } from '../log/errors.ts';
import { parsePolicy, PolicyError, type Policy, type PolicyDocument, type Requirement, type KeySource } from './document.ts';
import { parsePublicKey, type TrustedKey } from './keys.ts';

export type LoadedPolicy = Policy<TrustedKey> & { source: string };

/** A keyPath as written, resolved against the policy file's directory when relative. */
export function keyPathOf(policyFile: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(policyFile), path);
}

function readKey(source: KeySource, policyFile: string): TrustedKey {
  let pem: Buffer;
  let label: string;
  if (source.kind === 'path') {
    label = keyPathOf(policyFile, source.path);
    try {
      pem = readFileSync(label);
    } catch (error) {
      throw new PolicyError(policyFile, source.field, `cannot read key ${label}: ${(error as Error).message}`, 'keyPath names the signer\'s public key file (relative paths are relative to the policy file)');
    }
  } else {
    pem = source.pem;
    label = source.field;
  }
  const key = parsePublicKey(pem, label);
  if (typeof key === 'string') throw new PolicyError(policyFile, source.field, key);
  return key;
}

function withKeys(requirements: Requirement<KeySource>[], policyFile: string): Requirement<TrustedKey>[] {
  return requirements.map((requirement) => (requirement.type === 'sigstoreSigned' ? { ...requirement, keys: requirement.keys.map((key) => readKey(key, policyFile)) } : requirement));
}

/** The parsed document with each key read and checked. */
export function resolveKeys(document: PolicyDocument, policyFile: string): LoadedPolicy {
  return {
    source: policyFile,
    default: withKeys(document.default, policyFile),
    docker: new Map([...document.docker].map(([scope, requirements]) => [scope, withKeys(requirements, policyFile)])),
  };
}

/** Reads, parses and checks a policy.json and its keys; throws an OcinitError naming what is wrong. */
export function loadPolicy(file: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new OcinitError(`cannot read policy ${file}: ${(error as Error).message}`, { hint: 'give a containers-policy.json (see docs/security.md)' });
  }
  return resolveKeys(parsePolicy(text, file), file);
}
