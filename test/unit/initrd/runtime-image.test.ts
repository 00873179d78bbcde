import { describe, expect, it } from 'vitest';
import type { CpioEntry } from '../../../initrd/cpio.ts';
import { FORMATS, parseRuntimeImageFormat, RUNTIME_MOUNT_POINT, runtimeConfig, SMALLEST_MOVED_FILE, splitForRuntimeImage } from '../../../initrd/runtime-image.ts';

const file = (path: string, size: number): CpioEntry => ({ type: 'file', path, mode: 0o755, source: `/host${path}`, size });

describe('runtime image split', () => {
  const entries: CpioEntry[] = [
    { type: 'directory', path: '/bin', mode: 0o755 },
    file('/bin/busybox', 2_000_000),
    file('/bin/node', 108_000_000),
    file('/lib/modules/6.1/kernel/drivers/block/loop.ko', 100_000),
    file('/usr/share/ocinit/udhcpc.script', SMALLEST_MOVED_FILE - 1),
    { type: 'symlink', path: '/bin/sh', target: 'busybox' },
    { type: 'inline', path: '/etc/passwd', mode: 0o644, data: Buffer.from('root:x:0:0::/root:/bin/sh\n') },
  ];
  const { moved, kept } = splitForRuntimeImage(entries, new Set(['/bin/busybox', '/lib/modules/6.1/kernel/drivers/block/loop.ko']));

  it('moves large files not kept, each leaving a symlink into the mount point at its path', () => {
    expect(moved.map((entry) => entry.path)).toEqual(['/bin/node']);
    expect(kept.find((entry) => entry.path === '/bin/node')).toEqual({ type: 'symlink', path: '/bin/node', target: `${RUNTIME_MOUNT_POINT}/bin/node` });
  });

  it('keeps what /init needs to mount it, small files, symlinks, directories and generated files as they were', () => {
    for (const path of ['/bin', '/bin/busybox', '/lib/modules/6.1/kernel/drivers/block/loop.ko', '/usr/share/ocinit/udhcpc.script', '/bin/sh', '/etc/passwd']) {
      expect(kept.find((entry) => entry.path === path)).toEqual(entries.find((entry) => entry.path === path));
    }
    expect(kept).toHaveLength(entries.length);
  });
});

describe('runtime image formats', () => {
  it('builds both squashfs flavours in 1 MiB blocks, zstd -19 or lz4hc, with fixed owners and times', () => {
    const zstd = FORMATS.squashfs.mkfs('tree', 'out.img', 1700000000);
    const lz4 = FORMATS['squashfs-lz4'].mkfs('tree', 'out.img', 1700000000);
    for (const args of [zstd, lz4]) {
      expect(args.slice(0, 3)).toEqual(['mksquashfs', 'tree', 'out.img']);
      expect(args.join(' ')).toContain('-b 1M');
      expect(args.join(' ')).toContain('-all-root');
      expect(args.join(' ')).toContain('-mkfs-time 1700000000 -all-time 1700000000');
    }
    expect(zstd.join(' ')).toContain('-comp zstd -Xcompression-level 19');
    expect(lz4.join(' ')).toContain('-comp lz4 -Xhc');
    expect(FORMATS['squashfs-lz4'].fstype).toBe('squashfs');
  });
});

describe('runtime image configuration', () => {
  it('tells /init the file system type, where the image is and which modules to load first', () => {
    const text = runtimeConfig('squashfs', ['loop', 'squashfs']);
    expect(text).toContain('RUNTIME_FSTYPE=squashfs\n');
    expect(text).toContain(`RUNTIME_MOUNT=${RUNTIME_MOUNT_POINT}\n`);
    expect(text).toContain("RUNTIME_MODULES='loop squashfs'\n");
  });

  it('knows squashfs, squashfs-lz4, erofs and none, nothing else', () => {
    expect(parseRuntimeImageFormat('squashfs')).toBe('squashfs');
    expect(parseRuntimeImageFormat('squashfs-lz4')).toBe('squashfs-lz4');
    expect(parseRuntimeImageFormat('none')).toBe('none');
    expect(parseRuntimeImageFormat('ext4')).toBeUndefined();
  });
});
