import { describe, expect, it } from 'vitest';
import { listsFilesystem } from '../../../src/system/overlay.ts';

describe('listsFilesystem', () => {
  it('finds a file system by its exact name in /proc/filesystems, nodev or not', () => {
    const text = 'nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n';
    expect(listsFilesystem(text, 'overlay')).toBe(true);
    expect(listsFilesystem(text, 'ext4')).toBe(true);
    expect(listsFilesystem(text, 'over')).toBe(false);
    expect(listsFilesystem('nodev\toverlayfs\n', 'overlay')).toBe(false);
    expect(listsFilesystem('', 'overlay')).toBe(false);
  });
});
