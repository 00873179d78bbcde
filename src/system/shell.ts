/** One word for `sh`: single-quoted, so nothing in it is expanded. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
