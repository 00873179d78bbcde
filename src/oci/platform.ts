import { arch } from 'node:os';
import { OcinitError } from '../log/errors.ts';
import type { Descriptor } from './manifest.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCHITECTURE_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  i686: '386',
  ia32: '386',
  x64: 'amd64',
};

/** Canonical form: `aarch64` → `arm64`, arm64's default variant `v8`, `armhf` → `arm` v7. */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  const architecture = ARCHITECTURE_ALIASES[platform.architecture.toLowerCase()] ?? platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase();
  if (architecture === 'arm64' && (variant === undefined || variant === '' || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && /^[5-8]$/.test(variant ?? '')) variant = `v${variant}`;
  if (architecture === 'arm' && (variant === undefined || variant === '')) {
    variant = platform.architecture.toLowerCase() === 'armel' ? 'v6' : 'v7';
  }
  if (architecture === 'amd64' && (variant === '' || variant === 'v1')) variant = undefined;
  return variant === undefined || variant === '' ? { os, architecture } : { os, architecture, variant };
}

/** `linux/arm64/v8` ↔ Platform. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    throw new OcinitError(`invalid platform '${text}'`, { hint: 'use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7' });
  }
  return normalizePlatform(variant === undefined ? { os, architecture } : { os, architecture, variant });
}

export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant === undefined ? '' : `/${platform.variant}`}`;
}

/** The machine ocinit runs on. */
export function hostPlatform(): Platform {
  const architecture = arch();
  return normalizePlatform({ os: 'linux', architecture });
}

function isAttestation(descriptor: Descriptor): boolean {
  return (
    descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (descriptor.platform?.os === 'unknown' && descriptor.platform.architecture === 'unknown')
  );
}

function matches(candidate: Platform, wanted: Platform): boolean {
  const a = normalizePlatform(candidate);
  const b = normalizePlatform(wanted);
  if (a.os !== b.os || a.architecture !== b.architecture) return false;
  // An index entry without a variant fits any variant of its architecture and vice versa.
  return wanted.variant === undefined || candidate.variant === undefined || a.variant === b.variant;
}

/**
 * Picks the index entry for `wanted`: an exact variant match first, then an entry whose variant is
 * unspecified; attestations are never picked; an entry without a platform is used only when it is the
 * sole image in the index. Returns undefined when nothing fits.
 */
export function selectPlatform(entries: readonly Descriptor[], wanted: Platform): Descriptor | undefined {
  const images = entries.filter((entry) => !isAttestation(entry));
  const withPlatform = images.filter((entry): entry is Descriptor & { platform: Platform } => entry.platform !== undefined);
  const normalizedWanted = normalizePlatform(wanted);
  const exact = withPlatform.find((entry) => {
    const candidate = normalizePlatform(entry.platform);
    return candidate.os === normalizedWanted.os && candidate.architecture === normalizedWanted.architecture && candidate.variant === normalizedWanted.variant;
  });
  if (exact !== undefined) return exact;
  const loose = withPlatform.find((entry) => matches(entry.platform, wanted));
  if (loose !== undefined) return loose;
  const withoutPlatform = images.filter((entry) => entry.platform === undefined);
  return withoutPlatform.length === 1 && withPlatform.length === 0 ? withoutPlatform[0] : undefined;
}

export function listPlatforms(entries: readonly Descriptor[]): string[] {
  return entries.filter((entry) => !isAttestation(entry) && entry.platform !== undefined).map((entry) => formatPlatform(entry.platform ?? { os: '?', architecture: '?' }));
}
