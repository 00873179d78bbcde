// Which firmware the drivers asked for and did not get, from the kernel's own log lines.

export interface MissingFirmware {
  /** The driver and device that asked, as the kernel prints them (`r8169 0000:00:03.0`), if known. */
  requester: string | undefined;
  file: string;
}

// "r8169 0000:00:03.0: Direct firmware load for rtl_nic/rtl8168h-2.fw failed with error -2"
const DIRECT = /^(?:(.+?): )?Direct firmware load for (\S+) failed with error -?\d+/;
// "r8169 0000:00:03.0: firmware: failed to load rtl_nic/rtl8168h-2.fw (-2)"
const FAILED = /^(?:(.+?): )?firmware: failed to load (\S+)/;

/** The missing firmware files named in kernel log lines, each once, in order. */
export function missingFirmware(lines: readonly string[]): MissingFirmware[] {
  const found = new Map<string, MissingFirmware>();
  for (const line of lines) {
    const match = DIRECT.exec(line) ?? FAILED.exec(line);
    const file = match?.[2];
    if (file === undefined || found.has(file)) continue;
    found.set(file, { requester: match?.[1], file });
  }
  return [...found.values()];
}

export function describeMissingFirmware(missing: MissingFirmware): string {
  return `firmware ${missing.file} is missing${missing.requester === undefined ? '' : ` (asked for by ${missing.requester})`}: the device may not work; build the initramfs with make initrd FIRMWARE=DIR, DIR holding ${missing.file}`;
}
