/** glibc and musl read at most this many `nameserver` lines. */
const MAX_NAMESERVERS = 3;

/** The text of /etc/resolv.conf; nameservers and domains de-duplicated, in order of preference. */
export function resolvConfText(nameservers: readonly string[], searchDomains: readonly string[]): string {
  const unique = (items: readonly string[]): string[] => items.filter((item, index) => item !== '' && items.indexOf(item) === index);
  const lines = ['# written by ocinit'];
  const domains = unique(searchDomains);
  if (domains.length > 0) lines.push(`search ${domains.join(' ')}`);
  for (const server of unique(nameservers).slice(0, MAX_NAMESERVERS)) lines.push(`nameserver ${server}`);
  return `${lines.join('\n')}\n`;
}
