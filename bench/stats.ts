// Shared by the benchmarks: medians, and numbers read off a boot's console.

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** The number captured by `pattern`'s first group; throws with the console's tail when absent. */
export function consoleNumber(text: string, pattern: RegExp): number {
  const found = pattern.exec(text)?.[1];
  if (found === undefined) throw new Error(`boot output lacks ${pattern}:\n${text.slice(-3000)}`);
  return Number.parseFloat(found);
}
