import { readFileSync } from 'node:fs';

/** A text file's content, or '' when it cannot be read (absent, or /proc and /sys not mounted yet). */
export function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
