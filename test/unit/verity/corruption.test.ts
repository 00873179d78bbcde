import { describe, expect, it } from 'vitest';
import { corruptionNotices } from '../../../src/verity/mount.ts';

const roots = [
  { image: 'registry/a:1', dataDevice: '7:0', rootHash: 'aa'.repeat(32) },
  { image: 'registry/b:1', dataDevice: '7:1', rootHash: 'bb'.repeat(32) },
];

describe('corruptionNotices', () => {
  it("names each image whose blocks failed, once, with the kernel's block numbers", () => {
    const notices = corruptionNotices(
      [
        'EXT4-fs (vda1): mounted filesystem',
        'device-mapper: verity: 7:1: data block 486 is corrupted',
        'device-mapper: verity: 7:1: data block 486 is corrupted',
        'device-mapper: verity: 7:1: metadata block 494 is corrupted',
        'device-mapper: verity: 7:9: data block 3 is corrupted',
      ],
      roots,
    );
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^VERITY: registry\/b:1: its EROFS image failed dm-verity \(data block 486, metadata block 494; root hash b{64}\): readers got I\/O errors, never those bytes/);
  });

  it('says nothing when the kernel reported no verity error', () => {
    expect(corruptionNotices(['device-mapper: ioctl: 4.47.0-ioctl initialised'], roots)).toEqual([]);
  });
});
