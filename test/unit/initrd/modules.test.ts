import { describe, expect, it } from 'vitest';
import { filterAliases, moduleClosure, moduleName, parseModulesDep } from '../../../initrd/modules.ts';

const DEP = `kernel/fs/overlayfs/overlay.ko:
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/usb/storage/usb-storage.ko.xz:
`;

describe('module selection for the initramfs', () => {
  const deps = parseModulesDep(DEP);

  it('normalises names like modprobe does', () => {
    expect(moduleName('kernel/drivers/usb/storage/usb-storage.ko.xz')).toBe('usb_storage');
  });

  it('brings every dependency, transitively, and nothing else', () => {
    const { files, missing } = moduleClosure(deps, ['ext4', 'virtio-net'], '');
    expect(new Set(files)).toEqual(
      new Set([
        'kernel/fs/ext4/ext4.ko',
        'kernel/lib/crc16.ko',
        'kernel/fs/mbcache.ko',
        'kernel/fs/jbd2/jbd2.ko',
        'kernel/drivers/net/virtio_net.ko',
        'kernel/drivers/net/net_failover.ko',
        'kernel/net/core/failover.ko',
      ]),
    );
    expect(missing).toEqual([]);
  });

  it('needs no file for a built-in module and reports a name found nowhere', () => {
    const { files, missing } = moduleClosure(deps, ['virtio_pci', 'no_such_driver'], 'kernel/drivers/virtio/virtio_pci.ko\n');
    expect(files).toEqual([]);
    expect(missing).toEqual(['no_such_driver']);
  });

  it('keeps only the aliases of modules that are carried', () => {
    const aliases = 'alias virtio:d00000001v* virtio_net\nalias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n# comment\n';
    expect(filterAliases(aliases, ['kernel/drivers/net/virtio_net.ko'])).toBe('alias virtio:d00000001v* virtio_net\n');
  });
});
