/**
 * Built-in modules the boot's later stages load (the registry client, the unpacker, the cache) and
 * that Node can hold in a user-land snapshot (`supportedModules` in Node's
 * lib/internal/main/mksnapshot.js): loaded while the snapshot is built, they come deserialised
 * instead of compiled under the DUT's cold CPU (~0.2 s under TCG). node:http, node:tls,
 * node:child_process and node:dgram cannot be in a snapshot and still load where they are needed.
 * Nor node:os, or node:fs/promises, which loads it: os reads uname once, when loaded, so the DUT
 * would report the build host's kernel and look for that kernel's modules
 * (test/integration/initrd/launcher.test.ts starts a snapshot of these under another uname).
 */
export const SNAPSHOT_BUILTINS = ['node:assert', 'node:crypto', 'node:net', 'node:stream/promises', 'node:timers/promises', 'node:zlib'] as const;
