// Which kernel modules the initramfs carries: modules.txt's list, and with DRIVERS=all every module
// under the trees farms' real hardware needs. Pure: the builder passes the kernel's modules.dep.
import { moduleName } from './modules.ts';

/** `qemu`: modules.txt alone (virtio and a few common NICs, small); `all`: the hardware trees too. */
export const DRIVER_SETS = ['all', 'qemu'] as const;
export type DriverSet = (typeof DRIVER_SETS)[number];

/**
 * Module trees (relative to lib/modules/VERSION) that `all` carries whole: every Ethernet driver
 * (PCI, platform and USB, with PHYs, PCS and MDIO buses), the USB host controllers (dwc2/dwc3 on the
 * architectures whose kernel has them), block controllers a cache disk sits on (NVMe, AHCI/SATA,
 * USB mass storage and UAS, MMC/SDHCI). Their dependencies come along through modules.dep.
 */
export const HARDWARE_TREES = [
  'kernel/drivers/net/ethernet/',
  'kernel/drivers/net/usb/',
  'kernel/drivers/net/phy/',
  'kernel/drivers/net/pcs/',
  'kernel/drivers/net/mdio/',
  'kernel/drivers/net/vmxnet3/',
  'kernel/drivers/usb/host/',
  'kernel/drivers/usb/dwc2/',
  'kernel/drivers/usb/dwc3/',
  'kernel/drivers/usb/storage/',
  'kernel/drivers/nvme/host/',
  'kernel/drivers/ata/',
  'kernel/drivers/mmc/',
] as const;

/** Modules `all` wants by name besides the trees (the cache and its volumes are ext4, in modules.txt; btrfs and xfs would cost 8 MB). */
export const HARDWARE_MODULES = ['mii', 'sd_mod', 'virtio_scsi', 'mmc_block', 'exfat'] as const;

export function parseDriverSet(value: string): DriverSet | undefined {
  return DRIVER_SETS.find((set) => set === value);
}

/** The module names to carry for `set`, before the dependency closure. */
export function selectModules(set: DriverSet, listed: readonly string[], depFiles: Iterable<string>): string[] {
  if (set === 'qemu') return [...listed];
  const inTrees = [...depFiles].filter((file) => HARDWARE_TREES.some((tree) => file.startsWith(tree))).map(moduleName);
  return [...new Set([...listed, ...HARDWARE_MODULES, ...inTrees])];
}

/**
 * The modules.alias lines of the hardware-tree modules this initramfs does not carry (all of them
 * with DRIVERS=qemu), so that a boot on such a device names the module it lacks.
 */
export function absentHardwareAliases(aliasText: string, depFiles: Iterable<string>, carried: readonly string[]): string {
  const carriedNames = new Set(carried.map(moduleName));
  const absent = new Set(
    [...depFiles].filter((file) => HARDWARE_TREES.some((tree) => file.startsWith(tree))).map(moduleName).filter((name) => !carriedNames.has(name)),
  );
  return aliasText
    .split('\n')
    .filter((line) => {
      const words = line.split(/\s+/);
      return words[0] === 'alias' && words[2] !== undefined && absent.has(moduleName(words[2]));
    })
    .map((line) => `${line}\n`)
    .join('');
}
