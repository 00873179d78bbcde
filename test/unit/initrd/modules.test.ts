import { describe, expect, it } from 'vitest';
import { filterAliases, moduleClosure, moduleName, parseExactAliases, parseModulesDep, parseSoftdeps } from '../../../initrd/modules.ts';

const DEP = `kernel/fs/overlayfs/overlay.ko:
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/usb/storage/usb-storage.ko.xz:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/lib/libcrc32c.ko:
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

  it('follows soft dependencies, by module name or through exact aliases', () => {
    const soft = {
      softdeps: parseSoftdeps('# comment\nsoftdep ext4 pre: crypto-crc32c\nsoftdep jbd2 pre: crypto-crc32c\nsoftdep libcrc32c pre: crc32c-generic post: no_such_module\n'),
      aliases: parseExactAliases('alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\nalias pci:v*d* crc32c_generic\n'),
    };
    expect(soft.softdeps.get('ext4')).toEqual(['crypto-crc32c']);
    expect(soft.aliases.get('crypto-crc32c')).toEqual(['crc32c_intel', 'crc32c_generic']);
    expect(soft.aliases.has('pci:v*d*')).toBe(false);
    const withExt4 = moduleClosure(deps, ['ext4'], '', soft).files;
    expect(withExt4).toContain('kernel/crypto/crc32c_generic.ko');
    expect(withExt4).toContain('kernel/arch/x86/crypto/crc32c-intel.ko');
    expect(moduleClosure(deps, ['libcrc32c'], '', soft)).toEqual({ files: ['kernel/crypto/crc32c_generic.ko', 'kernel/lib/libcrc32c.ko'], missing: [] });
    expect(moduleClosure(deps, ['ext4'], '').files).not.toContain('kernel/crypto/crc32c_generic.ko');
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
