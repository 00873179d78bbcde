import { readTextOrEmpty } from './read-text.ts';

/** The kernel's count of the uevents it has sent; every device it adds sends one. */
export const UEVENT_SEQNUM = '/sys/kernel/uevent_seqnum';

/**
 * Tells whether a device may have appeared since the last look, so that a scan of every device in
 * /sys need not run when nothing happened. The count is read before the caller scans: what the
 * kernel adds during the scan makes the next call true. Without the file it always says yes.
 */
export class UeventWatch {
  readonly #path: string;
  #seen: string | undefined;

  constructor(path: string = UEVENT_SEQNUM) {
    this.#path = path;
  }

  /** Another scan listed the devices after the kernel had sent `count` uevents. */
  seen(count: string): void {
    if (count !== '') this.#seen = count;
  }

  changed(): boolean {
    const count = readTextOrEmpty(this.#path).trim();
    if (count === '') return true;
    const changed = count !== this.#seen;
    this.#seen = count;
    return changed;
  }
}
