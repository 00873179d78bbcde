import { describe, expect, it } from 'vitest';
import { describeMissingFirmware, missingFirmware } from '../../../src/boot/firmware.ts';

describe('missing firmware in the kernel log', () => {
  it('names each file a driver failed to load once, with the driver and device that asked', () => {
    const lines = [
      'r8169 0000:00:03.0: Direct firmware load for rtl_nic/rtl8168h-2.fw failed with error -2',
      'r8169 0000:00:03.0: Unable to load firmware rtl_nic/rtl8168h-2.fw (-2)',
      'r8169 0000:00:03.0: Direct firmware load for rtl_nic/rtl8168h-2.fw failed with error -2',
      'i915 0000:00:02.0: firmware: failed to load i915/kbl_dmc_ver1_04.bin (-2)',
      'Direct firmware load for regulatory.db failed with error -2',
      'e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex',
    ];
    expect(missingFirmware(lines)).toEqual([
      { requester: 'r8169 0000:00:03.0', file: 'rtl_nic/rtl8168h-2.fw' },
      { requester: 'i915 0000:00:02.0', file: 'i915/kbl_dmc_ver1_04.bin' },
      { requester: undefined, file: 'regulatory.db' },
    ]);
  });

  it('tells the operator how to add it', () => {
    expect(describeMissingFirmware({ requester: 'r8169 0000:00:03.0', file: 'rtl_nic/rtl8168h-2.fw' })).toBe(
      'firmware rtl_nic/rtl8168h-2.fw is missing (asked for by r8169 0000:00:03.0): the device may not work; build the initramfs with make initrd FIRMWARE=DIR, DIR holding rtl_nic/rtl8168h-2.fw',
    );
  });

  it('finds nothing in a log without firmware failures', () => {
    expect(missingFirmware(['virtio_net virtio0 eth0: renamed', ''])).toEqual([]);
  });
});
