import { describe, expect, it } from 'vitest';
import { absentHardwareAliases, parseDriverSet, selectModules } from '../../../initrd/drivers.ts';
import { moduleClosure, parseModulesDep } from '../../../initrd/modules.ts';

const DEP = `kernel/drivers/net/ethernet/realtek/8139too.ko: kernel/drivers/net/mii.ko
kernel/drivers/net/mii.ko:
kernel/drivers/net/usb/cdc_ether.ko: kernel/drivers/net/usb/usbnet.ko kernel/drivers/usb/core/usbcore.ko
kernel/drivers/net/usb/usbnet.ko: kernel/drivers/net/mii.ko kernel/drivers/usb/core/usbcore.ko
kernel/drivers/usb/core/usbcore.ko: kernel/drivers/usb/common/usb-common.ko
kernel/drivers/usb/common/usb-common.ko:
kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko kernel/drivers/usb/core/usbcore.ko
kernel/drivers/usb/host/xhci-hcd.ko: kernel/drivers/usb/core/usbcore.ko
kernel/drivers/net/vmxnet3/vmxnet3.ko:
kernel/drivers/nvme/host/nvme.ko: kernel/drivers/nvme/host/nvme-core.ko
kernel/drivers/nvme/host/nvme-core.ko:
kernel/drivers/net/wireless/intel/iwlwifi/iwlwifi.ko:
kernel/drivers/gpu/drm/i915/i915.ko:
kernel/fs/ext4/ext4.ko:
`;

describe('driver sets', () => {
  const deps = parseModulesDep(DEP);

  it('qemu carries modules.txt alone', () => {
    expect(selectModules('qemu', ['ext4'], deps.keys())).toEqual(['ext4']);
  });

  it('all adds every module of the hardware trees, with their dependencies, and no Wi-Fi or GPU', () => {
    const { files } = moduleClosure(deps, selectModules('all', ['ext4'], deps.keys()), '');
    expect(files).toContain('kernel/drivers/net/ethernet/realtek/8139too.ko');
    expect(files).toContain('kernel/drivers/net/usb/cdc_ether.ko');
    expect(files).toContain('kernel/drivers/usb/common/usb-common.ko');
    expect(files).toContain('kernel/drivers/usb/host/xhci-pci.ko');
    expect(files).toContain('kernel/drivers/net/vmxnet3/vmxnet3.ko');
    expect(files).toContain('kernel/drivers/nvme/host/nvme-core.ko');
    expect(files).toContain('kernel/fs/ext4/ext4.ko');
    expect(files).not.toContain('kernel/drivers/net/wireless/intel/iwlwifi/iwlwifi.ko');
    expect(files).not.toContain('kernel/drivers/gpu/drm/i915/i915.ko');
  });

  it('all names the modules it wants that this kernel lacks', () => {
    const { missing } = moduleClosure(deps, selectModules('all', ['ext4'], deps.keys()), '');
    expect(missing).toContain('sd_mod');
    expect(missing).not.toContain('mii');
  });

  it('knows only all and qemu', () => {
    expect(parseDriverSet('all')).toBe('all');
    expect(parseDriverSet('qemu')).toBe('qemu');
    expect(parseDriverSet('everything')).toBeUndefined();
  });
});

describe('aliases of the left-out hardware modules', () => {
  const ALIASES = `alias pci:v000010ECd00008139sv*sd*bc*sc*i* 8139too
alias pci:v000015ADd000007B0sv*sd*bc*sc*i* vmxnet3
alias fs-ext4 ext4
`;
  const deps = parseModulesDep(DEP);

  it('lists those of hardware-tree modules not carried, and nothing else', () => {
    expect(absentHardwareAliases(ALIASES, deps.keys(), ['kernel/drivers/net/vmxnet3/vmxnet3.ko', 'kernel/fs/ext4/ext4.ko'])).toBe(
      'alias pci:v000010ECd00008139sv*sd*bc*sc*i* 8139too\n',
    );
  });
});
