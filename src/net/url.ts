/**
 * A URL as it may be printed: no user:password, no query string (tokens live there), no fragment.
 * Text that is not a URL is cut at the first `@` or `?` for the same reasons.
 */
export function displayUrl(text: string): string {
  try {
    const url = new URL(text);
    const query = url.search === '' ? '' : '?…';
    return `${url.protocol}//${url.host}${url.pathname}${query}`;
  } catch {
    return text.replace(/\/\/[^/@]*@/, '//').replace(/\?.*$/, '?…');
  }
}
