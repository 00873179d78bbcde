import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const DEFAULT_INTERVAL = 8 * 1024 * 1024;

type Collector = (options: { type: 'minor' | 'major' }) => void;

function findCollector(): Collector | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const collector: unknown = runInNewContext('gc');
    return typeof collector === 'function' ? (collector as Collector) : undefined;
  } catch {
    return undefined;
  }
}

// null until first needed (a fresh context costs ~40 ms under TCG, and a small image never needs
// one); undefined when this Node offers none.
let collector: Collector | undefined | null = null;
let sinceLast = 0;

/**
 * Streams allocate a fresh Buffer per chunk, and V8 lets about 64 MB of such dead external memory
 * pile up before it collects on its own. On a device under test that is RAM the containers need, so
 * every few MB streamed we ask for a young-generation collection (about a millisecond), which keeps
 * ocinit's peak memory flat whatever the image size.
 */
export function noteStreamedBytes(count: number, interval = DEFAULT_INTERVAL): void {
  sinceLast += count;
  if (sinceLast < interval) return;
  sinceLast = 0;
  if (collector === null) collector = findCollector();
  collector?.({ type: 'minor' });
}
