// PCR numbers, apart from the crypto, so that the command-line parser can check b2c.tpm_pcr
// without loading node:crypto into the launcher's first moments.

/**
 * PCR 15 by default: firmware uses 0-7, boot loaders 8-9 and 11-14 (grub, the kernel's initrd
 * measurement, systemd-stub, shim), IMA's boot aggregate 10, and 16 and 23 can be reset by anyone.
 * systemd extends 15 only once it runs, after ocinit hands over (b2c.switch_root).
 */
export const DEFAULT_PCR = 15;
export const PCR_COUNT = 24;

export function isValidPcr(pcr: number): boolean {
  return Number.isInteger(pcr) && pcr >= 0 && pcr < PCR_COUNT;
}
